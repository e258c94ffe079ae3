/*
 * itemcf_tables.h — the layout of the extension's own tables, for the C that
 * reads or writes them below the executor (heap tuples, index scans,
 * table_multi_insert): serving (serving_model.c, serving.c) and the rebuild
 * (rebuild.c).
 *
 * As pg_cron's cron_job.h does, every column the C code touches is named here
 * by its attribute number (Anum_*) and every table by its column count
 * (Natts_*); the tables are created in src/models.sql and changed only by
 * update scripts, which append columns (ALTER TABLE ... ADD COLUMN), so the
 * numbers below stay valid for every version.  Change them together with the
 * SQL.  The primary keys' column numbers (*_pkey_*) are index key numbers,
 * for scan keys on those indexes.
 */
#ifndef ITEMCF_TABLES_H
#define ITEMCF_TABLES_H

#include "postgres.h"

/* itemcf_models: one row per registered model */
#define ITEMCF_MODELS_TABLE					"itemcf_models"
#define Anum_itemcf_models_model_id			1
#define Anum_itemcf_models_name				2
#define Anum_itemcf_models_source			3
#define Anum_itemcf_models_user_column		4
#define Anum_itemcf_models_item_column		5
#define Anum_itemcf_models_weight_column	6
#define Anum_itemcf_models_time_column		7
#define Anum_itemcf_models_measure			8
#define Anum_itemcf_models_alpha			9
#define Anum_itemcf_models_weights			10
#define Anum_itemcf_models_k				11
#define Anum_itemcf_models_min_support		12
#define Anum_itemcf_models_shrinkage		13
#define Anum_itemcf_models_time_window		14
#define Anum_itemcf_models_history_cap		15
#define Anum_itemcf_models_owner			16
#define Anum_itemcf_models_current_version	17
#define Anum_itemcf_models_built_at			18
#define Anum_itemcf_models_created_at		19
#define Anum_itemcf_models_built_settings	20	/* added in 0.2.0 */
#define Anum_itemcf_models_built_source		21	/* added in 0.2.0 */
#define Anum_itemcf_models_window_anchor	22	/* added in 0.2.0 */
#define Anum_itemcf_models_label_source		23	/* added in 0.2.0 */
#define Anum_itemcf_models_label_column		24	/* added in 0.2.0 */
#define Anum_itemcf_models_label_key		25	/* added in 0.2.0 */
#define Natts_itemcf_models					25
#define Natts_itemcf_models_0_1_0			19	/* before ALTER EXTENSION UPDATE to 0.2.0 */

/* Unique index on itemcf_models (name) */
#define ITEMCF_MODELS_NAME_INDEX			"itemcf_models_name_key"

/* itemcf_neighbors: one neighbour list per (model, version, item) */
#define ITEMCF_NEIGHBORS_TABLE				"itemcf_neighbors"
#define Anum_itemcf_neighbors_model_id		1
#define Anum_itemcf_neighbors_version		2
#define Anum_itemcf_neighbors_item_id		3
#define Anum_itemcf_neighbors_neighbors		4
#define Natts_itemcf_neighbors				4

/* Its primary key (model_id, version, item_id) */
#define ITEMCF_NEIGHBORS_PKEY				"itemcf_neighbors_pkey"
#define Anum_itemcf_neighbors_pkey_model_id	1
#define Anum_itemcf_neighbors_pkey_version	2
#define Anum_itemcf_neighbors_pkey_item_id	3

/* itemcf_best_pairs (read through the view itemcf_top_pairs): the highest-scoring (item, neighbour) pairs of every (model, version) and item shard */
#define ITEMCF_BEST_PAIRS_TABLE				"itemcf_best_pairs"
#define Anum_itemcf_best_pairs_model_id		1
#define Anum_itemcf_best_pairs_version		2
#define Anum_itemcf_best_pairs_item_id		3
#define Anum_itemcf_best_pairs_neighbor_id	4
#define Anum_itemcf_best_pairs_score			5
#define Natts_itemcf_best_pairs				5
#define ITEMCF_BEST_PAIRS_PER_SHARD			1000	/* the view itemcf_top_pairs shows this many */

/* itemcf_labels: the labels of the items of every (model, version) with a label source */
#define ITEMCF_LABELS_TABLE					"itemcf_labels"
#define Anum_itemcf_labels_model_id			1
#define Anum_itemcf_labels_version			2
#define Anum_itemcf_labels_item_id			3
#define Anum_itemcf_labels_label			4
#define Natts_itemcf_labels					4

/* Its primary key (model_id, version, item_id) */
#define ITEMCF_LABELS_PKEY					"itemcf_labels_pkey"
#define Anum_itemcf_labels_pkey_model_id	1
#define Anum_itemcf_labels_pkey_version		2
#define Anum_itemcf_labels_pkey_item_id		3

/* itemcf_popular: the most bought items of every (model, version), by rank */
#define ITEMCF_POPULAR_TABLE				"itemcf_popular"
#define Anum_itemcf_popular_model_id		1
#define Anum_itemcf_popular_version			2
#define Anum_itemcf_popular_rank			3
#define Anum_itemcf_popular_item_id			4
#define Anum_itemcf_popular_buyers			5
#define Natts_itemcf_popular				5

/* Its primary key (model_id, version, rank) */
#define ITEMCF_POPULAR_PKEY					"itemcf_popular_pkey"
#define Anum_itemcf_popular_pkey_model_id	1
#define Anum_itemcf_popular_pkey_version	2
#define Anum_itemcf_popular_pkey_rank		3

/* OID of the extension's relation `name` in its schema nsp, or an error saying to reinstall (itemcf.c) */
extern Oid	itemcf_extension_relation(Oid nsp, const char *name);

#endif
