#include "server/snapshots_api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SNAPSHOT_NAME_MAX 128

/* The name asked for (copied to out), or a fresh one; -1 with message. */
static int snapshot_name(const struct sbx *s, const char *body, size_t len, char *out,
                         size_t size, char *message, size_t msize)
{
	json_t *doc = NULL;
	if (len > 0) {
		json_error_t jerr;
		doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(doc)) {
			snprintf(message, msize, "expected {\"name\": NAME} or no body");
			json_decref(doc);
			return -1;
		}
		const char *key;
		json_t *value;
		json_object_foreach(doc, key, value) {
			if (strcmp(key, "name") != 0 || !json_is_string(value)) {
				snprintf(message, msize, "expected {\"name\": NAME} or no body");
				json_decref(doc);
				return -1;
			}
		}
	}
	const char *name = json_string_value(json_object_get(doc, "name"));
	int rc = 0;
	if (name && strlen(name) <= SNAPSHOT_NAME_MAX) {
		snprintf(out, size, "%s", name);
	} else if (name) {
		snprintf(message, msize, "name: at most %d characters", SNAPSHOT_NAME_MAX);
		rc = -1;
	} else {
		/* Unique enough: one sandbox, one snapshot a nanosecond at most
		 * (a clash is refused as a taken name, never overwritten). */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(out, size, "%s-%lld%09ld", s->id, (long long)ts.tv_sec, (long)ts.tv_nsec);
	}
	json_decref(doc);
	return rc;
}

void snapshots_create(struct sbx *s, const char *body, size_t len, struct reply *r)
{
	char name[SNAPSHOT_NAME_MAX + 1];
	char message[256];
	if (snapshot_name(s, body, len, name, sizeof name, message, sizeof message) < 0) {
		reply_error(r, 400, "bad_request", "%s", message);
		return;
	}
	corral_error err = {0};
	corral_snapshot_info *info = NULL;
	if (corral_sandbox_snapshot(s->sb, name, &info, &err) < 0) {
		if (err.kind != CORRAL_ERR_USAGE)
			reply_error(r, 500, "internal", "%s", err.message);
		else if (err.errnum == ESRCH)
			reply_error(r, 409, "sandbox_ended", "%s", err.message);
		else if (err.errnum == EOPNOTSUPP)
			reply_error(r, 409, "not_on_image", "%s", err.message);
		else
			reply_error(r, 400, "bad_request", "%s", err.message);
		return;
	}
	reply_json(r, 201,
	           json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I}", "id", info->name, "name", info->name,
	                     "image", info->image, "parent", info->parent, "bytes",
	                     (json_int_t)info->bytes, "created", (json_int_t)info->created));
	corral_snapshot_info_free(info, 1);
}
