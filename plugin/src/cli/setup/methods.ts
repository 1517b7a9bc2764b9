// How setup turns the service on for the chosen domains (the --method flag):
// a leaf module, so `xlnet help setup` can list the choices without loading
// the code that rewrites domain configs.
export type Method = 'hook' | 'script' | 'xl';
export const METHODS: readonly Method[] = ['hook', 'script', 'xl'];
