/* corral snapshot create|ls|inspect|rm */
#include "cli/cli.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>

static const char snapshot_help[] =
	"Usage: corral snapshot create --state DIR NAME [--state-dir DIR]\n"
	"       corral snapshot create --upper DIR --base IMAGE|SNAPSHOT NAME [--state-dir DIR]\n"
	"       corral snapshot ls [--json] [--state-dir DIR]\n"
	"       corral snapshot inspect NAME [--json] [--state-dir DIR]\n"
	"       corral snapshot rm NAME [--state-dir DIR]\n"
	"\n"
	"A snapshot freezes what a sandbox changed (its overlayfs upper directory) into\n"
	"a read-only layer stacked on the image or snapshot it ran on (docs/store.md).\n"
	"\n"
	"  --state DIR        a persistent sandbox's state: DIR/upper, DIR/work and\n"
	"                     DIR/sandbox.json ({\"image\": NAME, \"snapshot\": NAME|null})\n"
	"  --upper DIR        an overlayfs upper directory, with --base, the image or\n"
	"                     snapshot it was stacked on\n"
	"  --state-dir DIR    the store (default /var/lib/corral for root, else\n"
	"                     $XDG_STATE_HOME/corral or ~/.local/state/corral)\n"
	"  --json             print as JSON\n"
	"\n"
	"rm refuses a snapshot another one stacks on; corral gc then frees its layer.\n"
	"Exit status: 0; 2 for wrong input (options, names, directories, unknown\n"
	"images or snapshots); 125 if corral failed.\n";

static int do_create(corral_store *store, const struct store_args *args, corral_error *err)
{
	if (args->state)
		return corral_snapshot_create_from_state(store, args->state, args->pos[0], err);
	return corral_snapshot_create_from_upper(store, args->upper, args->base, args->pos[0], err);
}

static int do_remove(corral_store *store, const struct store_args *args, corral_error *err)
{
	return corral_snapshot_remove(store, args->pos[0], err);
}

static int do_list(corral_store *store, const struct store_args *args, corral_error *err)
{
	corral_snapshot_info *snaps = NULL;
	size_t n = 0;
	if (corral_snapshot_list(store, &snaps, &n, err) < 0)
		return -1;
	int rc = 0;
	if (args->json) {
		char *json = corral_snapshots_to_json(snaps, n);
		if (!json)
			rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		else
			store_cli_print_json(json);
	} else {
		printf("%-24s %-24s %-24s %10s  %s\n", "NAME", "IMAGE", "PARENT", "SIZE", "CREATED");
		for (size_t i = 0; i < n; i++) {
			char size[32], created[32];
			store_cli_size(snaps[i].bytes, size, sizeof size);
			store_cli_time(snaps[i].created, created, sizeof created);
			printf("%-24s %-24s %-24s %10s  %s\n", snaps[i].name, snaps[i].image,
			       snaps[i].parent ? snaps[i].parent : "-", size, created);
		}
	}
	corral_snapshot_info_free(snaps, n);
	return rc;
}

static int do_inspect(corral_store *store, const struct store_args *args, corral_error *err)
{
	corral_snapshot_info *info = NULL;
	if (corral_snapshot_inspect(store, args->pos[0], &info, err) < 0)
		return -1;
	int rc = 0;
	if (args->json) {
		char *json = corral_snapshot_to_json(info);
		if (!json)
			rc = error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		else
			store_cli_print_json(json);
	} else {
		char size[32], created[32];
		store_cli_size(info->bytes, size, sizeof size);
		store_cli_time(info->created, created, sizeof created);
		printf("name:    %s\nimage:   %s\nparent:  %s\nlayer:   %s\nsize:    %s\n"
		       "created: %s\nlayers (top first):\n",
		       info->name, info->image, info->parent ? info->parent : "-", info->layer, size,
		       created);
		for (size_t i = 0; i < info->n_layers; i++)
			printf("  %s\n", info->layers[i]);
	}
	corral_snapshot_info_free(info, 1);
	return rc;
}

static int parse_create(int argc, char **argv, struct store_args *args, corral_error *err)
{
	int parsed = store_args_parse("snapshot create", STORE_OPT_STATE | STORE_OPT_UPPER |
	                              STORE_OPT_BASE, 1, "NAME", snapshot_help, argc, argv, args,
	                              err);
	if (parsed != 0)
		return parsed;
	if (args->state && (args->upper || args->base))
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "snapshot create: --state and --upper/--base exclude each other");
	if (!args->state && !(args->upper && args->base))
		return error_set(err, CORRAL_ERR_USAGE, 0,
		                 "snapshot create: expected --state DIR, or --upper DIR and --base NAME");
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	corral_error err = {0};
	struct store_args args;
	const char *sub = argc > 1 ? argv[1] : "";
	int (*fn)(corral_store *, const struct store_args *, corral_error *) = NULL;
	int parsed;
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(snapshot_help, stdout);
		return 0;
	} else if (strcmp(sub, "create") == 0) {
		parsed = parse_create(argc - 1, argv + 1, &args, &err);
		fn = do_create;
	} else if (strcmp(sub, "ls") == 0) {
		parsed = store_args_parse("snapshot ls", STORE_OPT_JSON, 0, "", snapshot_help, argc - 1,
		                          argv + 1, &args, &err);
		fn = do_list;
	} else if (strcmp(sub, "inspect") == 0) {
		parsed = store_args_parse("snapshot inspect", STORE_OPT_JSON, 1, "NAME", snapshot_help,
		                          argc - 1, argv + 1, &args, &err);
		fn = do_inspect;
	} else if (strcmp(sub, "rm") == 0) {
		parsed = store_args_parse("snapshot rm", 0, 1, "NAME", snapshot_help, argc - 1, argv + 1,
		                          &args, &err);
		fn = do_remove;
	} else {
		parsed = error_set(&err, CORRAL_ERR_USAGE, 0,
		                   sub[0] ? "snapshot: unknown subcommand '%s' (see corral snapshot --help)"
		                          : "snapshot: expected create, ls, inspect or rm%s (see corral "
		                            "snapshot --help)",
		                   sub);
	}
	if (parsed != 0)
		return parsed > 0 ? 0 : store_cli_fail(&err);
	return store_cli_run(&args, fn);
}
