// The restart suite again with every split connection relayed by the kernel
// engine (engine = kernel in every profile: lab.ts withTestEngine).
process.env.XLNET_TEST_ENGINE = 'kernel';
await import('./restart.test.ts');
