/* corral image import|ls|rm */
#include "cli/cli.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char image_help[] =
	"Usage: corral image import SOURCE NAME [--state-dir DIR]\n"
	"       corral image ls [--json] [--state-dir DIR]\n"
	"       corral image rm NAME [--state-dir DIR]\n"
	"\n"
	"Images are read-only root file systems kept in the store (docs/store.md).\n"
	"SOURCE is a directory holding a root tree (copied with its modes, owners,\n"
	"links, xattrs and times) or oci:DIR, an OCI image layout (one layer per OCI\n"
	"layer, digests checked). rm refuses an image a snapshot stacks on; corral gc\n"
	"then frees its layers.\n"
	"\n"
	"  --state-dir DIR  the store (default /var/lib/corral for root, else\n"
	"                   $XDG_STATE_HOME/corral or ~/.local/state/corral)\n"
	"  --json           print the listing as JSON\n"
	"\n"
	"Exit status: 0; 2 for wrong input (options, names, sources, unknown images);\n"
	"125 if corral failed.\n";

static int do_import(corral_store *store, const struct store_args *args, corral_error *err)
{
	return corral_image_import(store, args->pos[0], args->pos[1], err);
}

static int do_remove(corral_store *store, const struct store_args *args, corral_error *err)
{
	return corral_image_remove(store, args->pos[0], err);
}

static int do_list(corral_store *store, const struct store_args *args, corral_error *err)
{
	corral_image_info *images = NULL;
	size_t n = 0;
	if (corral_image_list(store, &images, &n, err) < 0)
		return -1;
	int rc = 0;
	if (args->json) {
		char *json = corral_images_to_json(images, n);
		if (!json)
			rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		else
			store_cli_print_json(json);
	} else {
		printf("%-32s %6s %10s  %s\n", "NAME", "LAYERS", "SIZE", "CREATED");
		for (size_t i = 0; i < n; i++) {
			char size[32], created[32];
			store_cli_size(images[i].bytes, size, sizeof size);
			store_cli_time(images[i].created, created, sizeof created);
			printf("%-32s %6zu %10s  %s\n", images[i].name, images[i].n_layers, size, created);
		}
	}
	corral_image_info_free(images, n);
	return rc;
}

int cmd_image(int argc, char **argv)
{
	corral_error err = {0};
	struct store_args args;
	const char *sub = argc > 1 ? argv[1] : "";
	int (*fn)(corral_store *, const struct store_args *, corral_error *) = NULL;
	int parsed;
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(image_help, stdout);
		return 0;
	} else if (strcmp(sub, "import") == 0) {
		parsed = store_args_parse("image import", 0, 2, "SOURCE NAME", image_help, argc - 1,
		                          argv + 1, &args, &err);
		fn = do_import;
	} else if (strcmp(sub, "ls") == 0) {
		parsed = store_args_parse("image ls", STORE_OPT_JSON, 0, "", image_help, argc - 1,
		                          argv + 1, &args, &err);
		fn = do_list;
	} else if (strcmp(sub, "rm") == 0) {
		parsed = store_args_parse("image rm", 0, 1, "NAME", image_help, argc - 1, argv + 1,
		                          &args, &err);
		fn = do_remove;
	} else {
		parsed = error_set(&err, CORRAL_ERR_USAGE, 0,
		                   sub[0] ? "image: unknown subcommand '%s' (see corral image --help)"
		                          : "image: expected import, ls or rm%s (see corral image --help)",
		                   sub);
	}
	if (parsed != 0)
		return parsed > 0 ? 0 : store_cli_fail(&err);
	return store_cli_run(&args, fn);
}
