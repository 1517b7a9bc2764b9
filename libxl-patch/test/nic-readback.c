/*
 * nic-readback: lists a domain's vifs the way libxl rebuilds a running
 * domain's config (libxl_device_nic_list -> libxl__nic_from_xenstore), prints
 * them as a JSON array and frees the list with libxl_device_nic_list_free().
 *
 * The free is the point: a string field read back with the gc instead of
 * NOGC is freed twice here, and glibc aborts ("double free detected"), as
 * `xl list -l' did with the first version of upstream's `vlan' field.
 *
 *   nic-readback DOMID      (run with nohv-preload.so and NOHV_XENSTORE=tree)
 */
#include <stdio.h>
#include <stdlib.h>

#include <libxl.h>

int main(int argc, char **argv)
{
    xentoollog_logger_stdiostream *logger;
    libxl_device_nic *nics;
    libxl_ctx *ctx;
    int i, num;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DOMID\n", argv[0]);
        return 2;
    }
    logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (!logger || libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0,
                                   (xentoollog_logger *)logger)) {
        fprintf(stderr, "nic-readback: cannot allocate a libxl context\n");
        return 1;
    }
    nics = libxl_device_nic_list(ctx, atoi(argv[1]), &num);
    printf("[");
    for (i = 0; i < num; i++) {
        char *json = libxl_device_nic_to_json(ctx, &nics[i]);

        printf("%s%s", i ? "," : "", json ? json : "null");
        free(json);
    }
    printf("]\n");
    libxl_device_nic_list_free(nics, num);
    libxl_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)logger);
    return 0;
}
