/* What the store commands (image, snapshot, volume, gc) share: options,
 * opening the store, printing errors, times and JSON. */
#include "cli/cli.h"

#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	OPT_STATE_DIR = 1000,
	OPT_JSON,
	OPT_SIZE,
	OPT_STATE,
	OPT_UPPER,
	OPT_BASE,
};

static const struct option store_long_options[] = {
	{"state-dir", required_argument, NULL, OPT_STATE_DIR},
	{"json", no_argument, NULL, OPT_JSON},
	{"size", required_argument, NULL, OPT_SIZE},
	{"state", required_argument, NULL, OPT_STATE},
	{"upper", required_argument, NULL, OPT_UPPER},
	{"base", required_argument, NULL, OPT_BASE},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static unsigned opt_flag(int opt)
{
	switch (opt) {
	case OPT_JSON:
		return STORE_OPT_JSON;
	case OPT_SIZE:
		return STORE_OPT_SIZE;
	case OPT_STATE:
		return STORE_OPT_STATE;
	case OPT_UPPER:
		return STORE_OPT_UPPER;
	case OPT_BASE:
		return STORE_OPT_BASE;
	default:
		return 0;
	}
}

int store_args_parse(const char *cmd, unsigned allowed, int n_pos, const char *operands,
                     const char *help, int argc, char **argv, struct store_args *args,
                     corral_error *err)
{
	memset(args, 0, sizeof *args);
	opterr = 0;
	optind = 0;   /* glibc: start afresh, options may follow the operands */
	int opt;
	while ((opt = getopt_long(argc, argv, "h", store_long_options, NULL)) != -1) {
		if (opt == 'h') {
			fputs(help, stdout);
			return 1;
		}
		if (opt == '?') {
			for (const struct option *o = store_long_options; optopt && o->name; o++)
				if (o->val == optopt)
					return error_set(err, CORRAL_ERR_USAGE, 0, "%s: --%s needs a value",
					                 cmd, o->name);
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: unknown option '%s'", cmd,
			                 argv[optind - 1]);
		}
		unsigned flag = opt_flag(opt);
		if (flag && !(allowed & flag)) {
			const char *name = "";
			for (const struct option *o = store_long_options; o->name; o++)
				if (o->val == opt)
					name = o->name;
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: unknown option '--%s'", cmd, name);
		}
		switch (opt) {
		case OPT_STATE_DIR:
			args->state_dir = optarg;
			break;
		case OPT_JSON:
			args->json = true;
			break;
		case OPT_SIZE:
			args->size = optarg;
			break;
		case OPT_STATE:
			args->state = optarg;
			break;
		case OPT_UPPER:
			args->upper = optarg;
			break;
		default:
			args->base = optarg;
			break;
		}
	}
	args->pos = argv + optind;
	args->n_pos = argc - optind;
	if (args->n_pos != n_pos) {
		if (n_pos == 0)
			return error_set(err, CORRAL_ERR_USAGE, 0, "%s: unexpected argument '%s'", cmd,
			                 args->pos[0]);
		return error_set(err, CORRAL_ERR_USAGE, 0, "%s: expected %s (see corral %s --help)", cmd,
		                 operands, cmd);
	}
	return 0;
}

int store_cli_fail(const corral_error *err)
{
	cli_print_error(err);
	return err->kind == CORRAL_ERR_USAGE ? CLI_EXIT_USAGE : corral_error_exit_code(err);
}

int store_cli_run(const struct store_args *args,
                  int (*fn)(corral_store *store, const struct store_args *args, corral_error *err))
{
	corral_error err = {0};
	corral_store *store = corral_store_open(args->state_dir, &err);
	if (!store)
		return store_cli_fail(&err);
	int rc = fn(store, args, &err);
	corral_store_close(store);
	return rc < 0 ? store_cli_fail(&err) : 0;
}

void store_cli_time(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

int store_cli_print_json(char *json)
{
	if (!json) {
		fprintf(stderr, "corral: out of memory\n");
		return CORRAL_EXIT_FAILURE;
	}
	printf("%s\n", json);
	free(json);
	return 0;
}

void store_cli_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGTP";
	if (bytes < 1024) {
		snprintf(buf, size, "%lluB", (unsigned long long)bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t i = 0;
	while (v >= 1024 && i + 1 < sizeof units - 1) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, "%.1f%c", v, units[i]);
}
