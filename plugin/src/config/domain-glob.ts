// Domain name patterns of [domain NAME] sections: an xl domain name, or a
// glob where `*` matches any run of characters and `?` one character.
// (`[...]` classes cannot appear: `]` ends an ini section header.)

export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

export function globMatches(pattern: string, name: string): boolean {
  const re = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, 's').test(name);
}
