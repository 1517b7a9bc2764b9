/*
 * nohv-preload.so: lets `xl -N` (dry run) run on a machine without Xen.
 *
 * xl allocates a libxl context before every command, even a dry run, and
 * libxl_ctx_alloc() opens the hypervisor (privcmd) and xenstore; parsing a
 * domain config also asks the hypervisor for its physinfo.  None of that
 * matters to what the tests check (how xl parses a vif spec and what
 * libxl_domain_config_to_json() prints), so this LD_PRELOAD library answers
 * those few calls as a small idle host would: 2 CPUs, 1 NUMA node.
 *
 * xenstore: empty, unless NOHV_XENSTORE names a file of `path=value' lines;
 * then xs_read and xs_directory serve that read-only tree (how the tests
 * give libxl__nic_from_xenstore() a vif that libxl wrote earlier).  No
 * watches, writes or transactions.
 *
 * Calls not listed here reach the real libraries and fail as they would
 * without Xen, so a test that strays beyond what is answered here shows up
 * as an error instead of being silently faked.
 *
 * Built by libxl-patch/build.sh against the patched source tree's headers.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xenstore.h>

/* The fake host: what a 2-core test machine with one NUMA node reports. */
#define FAKE_NR_CPUS 2
#define FAKE_NR_NODES 1
#define FAKE_PAGES (1u << 20) /* 4 GiB of 4 KiB pages */

/* Distinct non-NULL handles; libxl only stores and passes them back. */
static char fake_xch, fake_xsh;

xc_interface *xc_interface_open(xentoollog_logger *logger,
                                xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    (void)logger; (void)dombuild_logger; (void)open_flags;
    return (xc_interface *)&fake_xch;
}

int xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

int xc_physinfo(xc_interface *xch, xc_physinfo_t *info)
{
    (void)xch;
    memset(info, 0, sizeof(*info));
    info->threads_per_core = 1;
    info->cores_per_socket = FAKE_NR_CPUS;
    info->nr_cpus = FAKE_NR_CPUS;
    info->max_cpu_id = FAKE_NR_CPUS - 1;
    info->nr_nodes = FAKE_NR_NODES;
    info->max_node_id = FAKE_NR_NODES - 1;
    info->total_pages = FAKE_PAGES;
    info->free_pages = FAKE_PAGES;
    info->capabilities = XEN_SYSCTL_PHYSCAP_pv | XEN_SYSCTL_PHYSCAP_hvm;
    return 0;
}

/* Xen 4.17 with empty strings: enough for libxl_get_version_info(). */
#define FAKE_XEN_VERSION ((4 << 16) | 17)
#define FAKE_PAGE_SIZE 4096

int xc_version(xc_interface *xch, int cmd, void *arg)
{
    (void)xch;
    switch (cmd) {
    case XENVER_version:
        return FAKE_XEN_VERSION;
    case XENVER_pagesize:
        return FAKE_PAGE_SIZE;
    case XENVER_extraversion:
        memset(arg, 0, sizeof(xen_extraversion_t));
        return 0;
    case XENVER_compile_info:
        memset(arg, 0, sizeof(xen_compile_info_t));
        return 0;
    case XENVER_capabilities:
        memset(arg, 0, sizeof(xen_capabilities_info_t));
        return 0;
    case XENVER_changeset:
        memset(arg, 0, sizeof(xen_changeset_info_t));
        return 0;
    case XENVER_platform_parameters:
        memset(arg, 0, sizeof(xen_platform_parameters_t));
        return 0;
    case XENVER_commandline:
        memset(arg, 0, sizeof(xen_commandline_t));
        return 0;
    case XENVER_build_id:
        return 0; /* libxl records an empty build id */
    default:
        errno = ENOSYS;
        return -1;
    }
}

int xc_get_max_cpus(xc_interface *xch) { (void)xch; return FAKE_NR_CPUS; }
int xc_get_online_cpus(xc_interface *xch) { (void)xch; return FAKE_NR_CPUS; }
int xc_get_max_nodes(xc_interface *xch) { (void)xch; return FAKE_NR_NODES; }

/* No memory sharing on this host: libxl treats ENOSYS as "0 pages". */
long xc_sharing_freed_pages(xc_interface *xch)
{
    (void)xch;
    errno = ENOSYS;
    return -1;
}

long xc_sharing_used_frames(xc_interface *xch)
{
    (void)xch;
    errno = ENOSYS;
    return -1;
}

/* ---- xenstore -------------------------------------------------------- */

/* The test trees are a few dozen nodes; more is a mistake in the test. */
#define TREE_MAX_NODES 256
#define TREE_LINE_MAX 1024

struct node {
    char *path;
    char *value;
};

static struct node tree[TREE_MAX_NODES];
static size_t tree_len;
static bool tree_loaded;

static void tree_load(void)
{
    const char *file = getenv("NOHV_XENSTORE");
    char line[TREE_LINE_MAX];
    FILE *f;

    if (tree_loaded)
        return;
    tree_loaded = true;
    if (!file)
        return;
    f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "nohv-preload: cannot open NOHV_XENSTORE=%s: %s\n",
                file, strerror(errno));
        abort();
    }
    while (fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        size_t n = strcspn(line, "\n");

        line[n] = '\0';
        if (!eq || line[0] != '/')
            continue;
        if (tree_len == TREE_MAX_NODES) {
            fprintf(stderr, "nohv-preload: more than %d nodes in %s\n",
                    TREE_MAX_NODES, file);
            abort();
        }
        *eq = '\0';
        tree[tree_len].path = strdup(line);
        tree[tree_len].value = strdup(eq + 1);
        tree_len++;
    }
    fclose(f);
}

/* If path is a proper ancestor of node, the length of its child's name. */
static size_t child_name_len(const char *path, const char *node)
{
    size_t n = strlen(path);

    if (strncmp(path, node, n) || node[n] != '/' || !node[n + 1])
        return 0;
    return strcspn(node + n + 1, "/");
}

struct xs_handle *xs_open(unsigned long flags)
{
    (void)flags;
    return (struct xs_handle *)&fake_xsh;
}

void xs_close(struct xs_handle *xsh) { (void)xsh; }

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
              unsigned int *len)
{
    size_t i;

    (void)h; (void)t;
    tree_load();
    for (i = 0; i < tree_len; i++) {
        if (!strcmp(tree[i].path, path)) {
            if (len)
                *len = strlen(tree[i].value);
            return strdup(tree[i].value);
        }
    }
    errno = ENOENT;
    return NULL;
}

char *xs_get_domain_path(struct xs_handle *h, unsigned int domid)
{
    char *path;

    (void)h;
    if (asprintf(&path, "/local/domain/%u", domid) < 0)
        return NULL;
    return path;
}

/* Like libxenstore: one allocation holding the pointers and the names. */
char **xs_directory(struct xs_handle *h, xs_transaction_t t,
                    const char *path, unsigned int *num)
{
    size_t i, j, bytes = 0, count = 0;
    char **names, *p;

    (void)h; (void)t;
    tree_load();
    *num = 0;
    for (i = 0; i < tree_len; i++) {
        size_t n = child_name_len(path, tree[i].path);

        if (n) {
            bytes += n + 1;
            count++;
        }
    }
    if (!count) {
        errno = ENOENT;
        return NULL;
    }
    names = malloc(count * sizeof(*names) + bytes);
    if (!names)
        return NULL;
    p = (char *)(names + count);
    for (i = 0; i < tree_len; i++) {
        const char *child = tree[i].path + strlen(path) + 1;
        size_t n = child_name_len(path, tree[i].path);
        bool seen = false;

        if (!n)
            continue;
        for (j = 0; j < *num; j++)
            seen = seen || (strlen(names[j]) == n && !strncmp(names[j], child, n));
        if (seen)
            continue;
        memcpy(p, child, n);
        p[n] = '\0';
        names[(*num)++] = p;
        p += n + 1;
    }
    return names;
}
