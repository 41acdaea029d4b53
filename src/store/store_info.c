/* The store's listings: freeing them and their JSON forms. */
#include "corral.h"

#include "util/strings.h"

#include <jansson.h>
#include <stdlib.h>

void corral_image_info_free(corral_image_info *images, size_t n_images)
{
	for (size_t i = 0; images && i < n_images; i++)
		free(images[i].name);
	free(images);
}

void corral_snapshot_info_free(corral_snapshot_info *snapshots, size_t n_snapshots)
{
	for (size_t i = 0; snapshots && i < n_snapshots; i++) {
		free(snapshots[i].name);
		free(snapshots[i].layer);
		free(snapshots[i].image);
		free(snapshots[i].parent);
		strv_free(snapshots[i].layers, snapshots[i].n_layers);
	}
	free(snapshots);
}

void corral_volume_info_free(corral_volume_info *volumes, size_t n_volumes)
{
	for (size_t i = 0; volumes && i < n_volumes; i++) {
		free(volumes[i].name);
		free(volumes[i].path);
	}
	free(volumes);
}

/* json_dumps of `value`, which is released; NULL if it is NULL. */
static char *dump(json_t *value)
{
	if (!value)
		return NULL;
	char *text = json_dumps(value, JSON_COMPACT);
	json_decref(value);
	return text;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* An array of make(item) for each of n items of `size` bytes; NULL if one
 * fails. */
static json_t *array_of(const void *items, size_t n, size_t size, json_t *(*make)(const void *))
{
	json_t *array = json_array();
	for (size_t i = 0; array && i < n; i++) {
		json_t *item = make((const char *)items + i * size);
		if (!item || json_array_append_new(array, item) < 0) {
			json_decref(array);
			array = NULL;
		}
	}
	return array;
}

static json_t *image_json(const void *item)
{
	const corral_image_info *img = item;
	return json_pack("{s:s, s:I, s:I, s:I}", "name", img->name, "created",
	                 (json_int_t)img->created, "layers", (json_int_t)img->n_layers, "bytes",
	                 (json_int_t)img->bytes);
}

static json_t *snapshot_json(const void *item)
{
	const corral_snapshot_info *snap = item;
	json_t *obj = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "name", snap->name, "layer",
	                        snap->layer, "image", snap->image, "parent",
	                        string_or_null(snap->parent), "created", (json_int_t)snap->created,
	                        "bytes", (json_int_t)snap->bytes);
	if (!obj || !snap->layers)
		return obj;
	json_t *layers = json_array();
	for (size_t i = 0; layers && i < snap->n_layers; i++)
		if (json_array_append_new(layers, json_string(snap->layers[i])) < 0) {
			json_decref(layers);
			layers = NULL;
		}
	if (!layers || json_object_set_new(obj, "layers", layers) < 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *volume_json(const void *item)
{
	const corral_volume_info *vol = item;
	return json_pack("{s:s, s:s, s:o, s:I}", "name", vol->name, "path", vol->path, "size_limit",
	                 vol->size_limit ? json_integer((json_int_t)vol->size_limit) : json_null(),
	                 "created", (json_int_t)vol->created);
}

char *corral_images_to_json(const corral_image_info *images, size_t n_images)
{
	return dump(array_of(images, n_images, sizeof *images, image_json));
}

char *corral_snapshots_to_json(const corral_snapshot_info *snapshots, size_t n_snapshots)
{
	return dump(array_of(snapshots, n_snapshots, sizeof *snapshots, snapshot_json));
}

char *corral_snapshot_to_json(const corral_snapshot_info *snapshot)
{
	return dump(snapshot_json(snapshot));
}

char *corral_volumes_to_json(const corral_volume_info *volumes, size_t n_volumes)
{
	return dump(array_of(volumes, n_volumes, sizeof *volumes, volume_json));
}

char *corral_gc_report_to_json(const corral_gc_report *report)
{
	return dump(json_pack("{s:I, s:I, s:I}", "layers_removed", (json_int_t)report->layers_removed,
	                      "leftovers_removed", (json_int_t)report->leftovers_removed,
	                      "bytes_freed", (json_int_t)report->bytes_freed));
}
