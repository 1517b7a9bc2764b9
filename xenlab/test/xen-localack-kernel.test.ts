// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// The real-Xen localack scenario again with every profile's engine = kernel:
// the BPF kernel relay on Debian 12's 6.1 Dom0 kernel, end to end (uploads and
// downloads byte-exact, flows, xl destroy with acknowledged data in flight).
process.env.XLNET_TEST_ENGINE = 'kernel';
await import('./xen-localack.test.ts');
