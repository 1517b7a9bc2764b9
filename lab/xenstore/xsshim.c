/*
 * xsshim: LD_PRELOAD library that lets Xen 4.17's C xenstored run on a
 * machine without a hypervisor, serving only its unix socket.
 *
 * xenstored talks to Xen through three handles (xenctrl, gnttab, evtchn) and
 * maps Dom0's ring through /proc/xen/xsd_kva + /proc/xen/xsd_port. Without
 * Xen, xc_interface_open() fails and xenstored exits; with -D (skip Dom0) the
 * 4.17 daemon crashes on the first request. So we stub the handles and give
 * it a fake Dom0: a private memory page as the ring (nobody ever writes to it,
 * so it stays idle) and an event channel fd that never becomes readable.
 * Everything else - the store, transactions, watches, permissions, the socket
 * protocol - is the real, unmodified xenstored.
 *
 * Which calls: the undefined xc_/xengnttab_/xenevtchn_ symbols of
 * /usr/lib/xen-4.17/bin/xenstored (nm -D), and xenbus_evtchn()/xenbus_map()
 * in tools/xenstore/xenstored_linux.c, which open() the two /proc/xen files.
 *
 * Optional: XSSHIM_PARENT_PID=<pid> makes the daemon exit with SIGTERM when
 * that process dies (tests never leak a daemon if they crash).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define PROC_XSD_PORT "/proc/xen/xsd_port"
#define PROC_XSD_KVA  "/proc/xen/xsd_kva"

/* Any small non-zero number: xenstored only hands it back to our stubs. */
#define FAKE_DOM0_PORT 1
/* Ports we hand out for VIRQ / interdomain binds start above Dom0's. */
#define FIRST_BOUND_PORT 2
/* Domain ids Xen may give real domains: 0 .. DOMID_FIRST_RESERVED - 1. */
#define SHIM_MAX_DOMID (DOMID_FIRST_RESERVED - 1)

/* Opaque handle types are only ever passed back to us; any unique address
 * will do. */
static char fake_xc_handle;
static char fake_gnttab_handle;

struct xenevtchn_handle {
	int pipe_rd; /* poll()ed by xenstored; never written, never readable */
	int pipe_wr;
	int next_port;
};

static int shim_is(const char *path, const char *want)
{
	return path && strcmp(path, want) == 0;
}

/* The port file: a memfd holding the decimal port, read like the proc file. */
static int open_fake_port_file(void)
{
	char buf[16];
	int fd = memfd_create("xsshim-xsd_port", MFD_CLOEXEC);
	int len = snprintf(buf, sizeof(buf), "%d\n", FAKE_DOM0_PORT);

	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != len || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The ring page: a memfd one page long, so xenstored's own mmap() works. */
static int open_fake_kva_file(void)
{
	int fd = memfd_create("xsshim-xsd_kva", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, getpagesize()) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int real_open(const char *sym, const char *path, int flags, mode_t mode)
{
	int (*fn)(const char *, int, ...) =
		(int (*)(const char *, int, ...))dlsym(RTLD_NEXT, sym);

	if (!fn) {
		errno = ENOSYS;
		return -1;
	}
	return fn(path, flags, mode);
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

static int shim_open(const char *sym, const char *path, int flags, mode_t mode)
{
	if (shim_is(path, PROC_XSD_PORT))
		return open_fake_port_file();
	if (shim_is(path, PROC_XSD_KVA))
		return open_fake_kva_file();
	return real_open(sym, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return shim_open("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return shim_open("open64", path, flags, mode);
}

/* ---- xenctrl ---------------------------------------------------------- */

xc_interface *xc_interface_open(xentoollog_logger *logger,
				xentoollog_logger *dombuild_logger,
				unsigned open_flags)
{
	(void)logger;
	(void)dombuild_logger;
	(void)open_flags;
	return (xc_interface *)&fake_xc_handle;
}

int xc_interface_close(xc_interface *xch)
{
	(void)xch;
	return 0;
}

/*
 * Every valid domid is reported as an existing, running domain: the lab
 * writes /local/domain/<domid> trees and permissions for guests that are not
 * real, and xenstored asks Xen whether a domain exists before it accounts
 * nodes to it. No domain is ever reported dying, so none is reaped.
 */
int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
		      unsigned int max_doms, xc_dominfo_t *info)
{
	(void)xch;
	if (max_doms == 0 || first_domid > SHIM_MAX_DOMID)
		return 0;
	memset(info, 0, sizeof(*info));
	info->domid = first_domid;
	info->running = 1;
	info->xenstore = first_domid == 0;
	return 1;
}

/* ---- grant tables ----------------------------------------------------- */

xengnttab_handle *xengnttab_open(xentoollog_logger *logger, unsigned open_flags)
{
	(void)logger;
	(void)open_flags;
	return (xengnttab_handle *)&fake_gnttab_handle;
}

int xengnttab_close(xengnttab_handle *xgt)
{
	(void)xgt;
	return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	(void)xgt;
	(void)nr_grants;
	return 0;
}

/* XS_INTRODUCE of a guest maps its ring: give it a private idle page, so an
 * introduced domain exists in xenstored but never talks. */
void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
			      uint32_t ref, int prot)
{
	void *page;

	(void)xgt;
	(void)domid;
	(void)ref;
	page = mmap(NULL, getpagesize(), prot, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	return page == MAP_FAILED ? NULL : page;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address,
		    uint32_t count)
{
	(void)xgt;
	return munmap(start_address, (size_t)count * getpagesize());
}

/* ---- event channels ---------------------------------------------------- */

static xenevtchn_handle *new_evtchn_handle(void)
{
	xenevtchn_handle *xce = calloc(1, sizeof(*xce));
	int fds[2];

	if (!xce)
		return NULL;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		free(xce);
		return NULL;
	}
	xce->pipe_rd = fds[0];
	xce->pipe_wr = fds[1];
	xce->next_port = FIRST_BOUND_PORT;
	return xce;
}

xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger,
				 unsigned open_flags)
{
	(void)logger;
	(void)open_flags;
	return new_evtchn_handle();
}

/* Used by live update to take over an old daemon's fd: we just make a new
 * handle, there is no kernel state to inherit. */
xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd,
				   unsigned open_flags)
{
	(void)logger;
	(void)fd;
	(void)open_flags;
	return new_evtchn_handle();
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	if (!xce)
		return 0;
	close(xce->pipe_rd);
	close(xce->pipe_wr);
	free(xce);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->pipe_rd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	(void)port;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
						      uint32_t domid,
						      evtchn_port_t remote_port)
{
	(void)domid;
	(void)remote_port;
	return xce->next_port++;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
					       unsigned int virq)
{
	(void)virq;
	return xce->next_port++;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	(void)port;
	return 0;
}

/* Only called when our fd is readable, which it never is. */
xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	(void)xce;
	errno = EAGAIN;
	return -1;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	(void)port;
	return 0;
}

/* ---- lifetime ----------------------------------------------------------- */

__attribute__((constructor)) static void xsshim_init(void)
{
	const char *parent = getenv("XSSHIM_PARENT_PID");
	long want;

	if (!parent)
		return;
	want = strtol(parent, NULL, 10);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		return;
	/* The parent may have died before prctl(): then we were reparented. */
	if (getppid() != (pid_t)want)
		raise(SIGTERM);
}
