#include "server/files_api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The status of a failed file operation. */
static void file_error(struct reply *r, const corral_error *err)
{
	if (err->kind != CORRAL_ERR_USAGE) {
		reply_error(r, 500, "internal", "%s", err->message);
		return;
	}
	switch (err->errnum) {
	case ESRCH:
		reply_error(r, 409, "sandbox_ended", "%s", err->message);
		break;
	case ENOENT:
		reply_error(r, 404, "file_not_found", "%s", err->message);
		break;
	case EFBIG:
		reply_error(r, 413, "too_large", "%s", err->message);
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		reply_error(r, 403, "permission_denied", "%s", err->message);
		break;
	case ENOSPC:
	case EDQUOT:
		reply_error(r, 507, "no_space", "%s", err->message);
		break;
	default:
		reply_error(r, 400, "bad_path", "%s", err->message);
	}
}

void files_read(struct sbx *s, const char *path, size_t max_bytes, struct reply *r)
{
	char *data = NULL;
	size_t len = 0;
	corral_error err = {0};
	if (corral_sandbox_read_file(s->sb, path, max_bytes, &data, &len, &err) < 0) {
		file_error(r, &err);
		return;
	}
	reply_bytes(r, 200, "application/octet-stream", data, len);
}

void files_list(struct sbx *s, const char *path, size_t max_entries, struct reply *r)
{
	corral_file_entry *entries = NULL;
	size_t n = 0;
	bool truncated = false;
	corral_error err = {0};
	if (corral_sandbox_list_dir(s->sb, path, max_entries, &entries, &n, &truncated, &err) < 0) {
		file_error(r, &err);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n && arr; i++) {
		const corral_file_entry *e = &entries[i];
		const char *type = e->type == 'f' ? "file" : e->type == 'd' ? "directory"
		                 : e->type == 'l' ? "symlink" : "other";
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:I}", "name", e->name,
		                                     "type", type, "size", (json_int_t)e->size, "mode",
		                                     (json_int_t)e->mode, "mtime", (json_int_t)e->mtime));
	}
	corral_file_entries_free(entries, n);
	reply_json(r, 200, json_pack("{s:o, s:b}", "entries", arr, "truncated", truncated));
}

void files_write(struct sbx *s, const char *path, const void *data, size_t len, struct reply *r)
{
	corral_error err = {0};
	/* Parents first (mkdir -p), as most clients expect of a PUT. */
	const char *slash = strrchr(path, '/');
	if (slash && slash != path) {
		char *dir = strndup(path, (size_t)(slash - path));
		int rc = dir ? corral_sandbox_make_dirs(s->sb, dir, &err) : -1;
		free(dir);
		if (rc < 0) {
			if (err.kind == CORRAL_OK)
				reply_error(r, 500, "internal", "out of memory");
			else
				file_error(r, &err);
			return;
		}
	}
	if (corral_sandbox_write_file(s->sb, path, data ? data : "", len, 0644, &err) < 0) {
		file_error(r, &err);
		return;
	}
	reply_json(r, 200, json_pack("{s:s, s:I}", "path", path, "size", (json_int_t)len));
}

void files_remove(struct sbx *s, const char *path, bool recursive, struct reply *r)
{
	corral_error err = {0};
	if (corral_sandbox_remove(s->sb, path, recursive, &err) < 0) {
		file_error(r, &err);
		return;
	}
	reply_json(r, 200, json_pack("{s:s}", "removed", path));
}
