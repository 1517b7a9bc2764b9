// Brings a lab up with the prefix given, says READY, and waits to be signalled
// (lab-signal.test.ts).
import { Lab } from '../lab.js';

const lab = await Lab.up({ prefix: process.argv[2]!, link: 'lan' });
await lab.addGuest({ domid: 1 });
process.stdout.write('READY\n');
setInterval(() => undefined, 1000);
