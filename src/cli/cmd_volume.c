/* corral volume create|ls|rm */
#include "cli/cli.h"

#include "policy/parse.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

static const char volume_help[] =
	"Usage: corral volume create NAME [--size SIZE] [--state-dir DIR]\n"
	"       corral volume ls [--json] [--state-dir DIR]\n"
	"       corral volume rm NAME [--state-dir DIR]\n"
	"\n"
	"Volumes are named directories in the store that outlive sandboxes\n"
	"(docs/store.md). rm deletes the volume and everything in it.\n"
	"\n"
	"  --size SIZE      a size limit (512M, 1G, ...), recorded and enforced when\n"
	"                   the volume is mounted (default: none)\n"
	"  --state-dir DIR  the store (default /var/lib/corral for root, else\n"
	"                   $XDG_STATE_HOME/corral or ~/.local/state/corral)\n"
	"  --json           print the listing as JSON\n"
	"\n"
	"Exit status: 0; 2 for wrong input (options, names, unknown volumes); 125 if\n"
	"corral failed.\n";

static int do_create(corral_store *store, const struct store_args *args, corral_error *err)
{
	uint64_t limit = 0;
	if (args->size && (parse_size(args->size, &limit) < 0 || limit == 0))
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "volume create: --size %s: expected a size such as 512M or 1G", args->size);
	if (limit == LIMIT_UNLIMITED)
		limit = 0;
	return corral_volume_create(store, args->pos[0], limit, err);
}

static int do_remove(corral_store *store, const struct store_args *args, corral_error *err)
{
	return corral_volume_remove(store, args->pos[0], err);
}

static int do_list(corral_store *store, const struct store_args *args, corral_error *err)
{
	corral_volume_info *vols = NULL;
	size_t n = 0;
	if (corral_volume_list(store, &vols, &n, err) < 0)
		return -1;
	int rc = 0;
	if (args->json) {
		char *json = corral_volumes_to_json(vols, n);
		if (!json)
			rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		else
			store_cli_print_json(json);
	} else {
		printf("%-32s %10s  %-20s  %s\n", "NAME", "LIMIT", "CREATED", "PATH");
		for (size_t i = 0; i < n; i++) {
			char limit[32], created[32];
			if (vols[i].size_limit)
				format_size(vols[i].size_limit, limit, sizeof limit);
			else
				snprintf(limit, sizeof limit, "-");
			store_cli_time(vols[i].created, created, sizeof created);
			printf("%-32s %10s  %-20s  %s\n", vols[i].name, limit, created, vols[i].path);
		}
	}
	corral_volume_info_free(vols, n);
	return rc;
}

int cmd_volume(int argc, char **argv)
{
	corral_error err = {0};
	struct store_args args;
	const char *sub = argc > 1 ? argv[1] : "";
	int (*fn)(corral_store *, const struct store_args *, corral_error *) = NULL;
	int parsed;
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(volume_help, stdout);
		return 0;
	} else if (strcmp(sub, "create") == 0) {
		parsed = store_args_parse("volume create", STORE_OPT_SIZE, 1, "NAME", volume_help,
		                          argc - 1, argv + 1, &args, &err);
		fn = do_create;
	} else if (strcmp(sub, "ls") == 0) {
		parsed = store_args_parse("volume ls", STORE_OPT_JSON, 0, "", volume_help, argc - 1,
		                          argv + 1, &args, &err);
		fn = do_list;
	} else if (strcmp(sub, "rm") == 0) {
		parsed = store_args_parse("volume rm", 0, 1, "NAME", volume_help, argc - 1, argv + 1,
		                          &args, &err);
		fn = do_remove;
	} else {
		parsed = error_set(&err, CORRAL_ERR_USAGE, 0,
		                   sub[0] ? "volume: unknown subcommand '%s' (see corral volume --help)"
		                          : "volume: expected create, ls or rm%s (see corral volume --help)",
		                   sub);
	}
	if (parsed != 0)
		return parsed > 0 ? 0 : store_cli_fail(&err);
	return store_cli_run(&args, fn);
}
