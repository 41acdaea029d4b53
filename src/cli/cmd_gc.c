/* corral gc */
#include "cli/cli.h"

#include "util/error.h"

#include <stdio.h>

static const char gc_help[] =
	"Usage: corral gc [--json] [--state-dir DIR]\n"
	"\n"
	"Free the store's space: layers no image or snapshot uses, and whatever an\n"
	"interrupted import, snapshot or removal left behind (docs/store.md).\n"
	"\n"
	"  --state-dir DIR  the store (default /var/lib/corral for root, else\n"
	"                   $XDG_STATE_HOME/corral or ~/.local/state/corral)\n"
	"  --json           print the report as JSON\n";

static int do_gc(corral_store *store, const struct store_args *args, corral_error *err)
{
	corral_gc_report report;
	if (corral_store_gc(store, &report, err) < 0)
		return -1;
	if (args->json) {
		char *json = corral_gc_report_to_json(&report);
		if (!json)
			return error_set(err, CORRAL_ERR_INTERNAL, 0, "out of memory");
		store_cli_print_json(json);
		return 0;
	}
	char size[32];
	store_cli_size(report.bytes_freed, size, sizeof size);
	printf("removed %llu layer%s and %llu leftover%s, freed %s\n",
	       (unsigned long long)report.layers_removed, report.layers_removed == 1 ? "" : "s",
	       (unsigned long long)report.leftovers_removed, report.leftovers_removed == 1 ? "" : "s",
	       size);
	return 0;
}

int cmd_gc(int argc, char **argv)
{
	corral_error err = {0};
	struct store_args args;
	int parsed = store_args_parse("gc", STORE_OPT_JSON, 0, "", gc_help, argc, argv, &args, &err);
	if (parsed != 0)
		return parsed > 0 ? 0 : store_cli_fail(&err);
	return store_cli_run(&args, do_gc);
}
