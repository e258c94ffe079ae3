--
-- item_neighbors(), item_buyers() and item_neighbors_stats() take any bytea: a
-- seeded mutation run over valid results (bit flips, bytes and int32 fields
-- set to edge values, truncation, extension, counts and offsets changed) must
-- only ever give a valid expansion or SQLSTATE 22P03, never another error or a
-- crash.  Every accepted mutant must expand consistently: one row per emitted
-- item, buyers for every dictionary item.
--
SET max_parallel_workers_per_gather = 0;
SET itemcf.threads = 1;
CREATE TEMP TABLE dec_rows AS
SELECT u, (u * 7 + j * j) % 40 - 5 AS i FROM generate_series(1, 60) u, generate_series(1, 1 + u % 6) j;
-- base results with the varying fields (threads, memory, timings) zeroed, so the run is the same every time
CREATE TEMP TABLE dec_base AS
SELECT n, overlay(overlay(r PLACING '\x00000000'::bytea FROM 33) PLACING '\x000000000000000000000000000000000000000000000000'::bytea FROM 101) AS r
FROM (VALUES (1, (SELECT item_neighbors_agg(u, i, 1, '{"k": 3}') FROM dec_rows)),
             (2, (SELECT item_neighbors_agg(u, i, 1, '{"k": 5, "shard_count": 2, "shard_index": 1}') FROM dec_rows)),
             (3, (SELECT item_neighbors_agg(u, i, 1, '{"k": 1, "measure": "jaccard"}') FROM dec_rows WHERE u < 5))) v(n, r);
SELECT n, length(r) AS bytes, item_neighbors_stats(r)->'entries' AS entries FROM dec_base ORDER BY n;

-- le32(x): x as 4 little-endian bytes
CREATE FUNCTION dec_le32(x bigint) RETURNS bytea LANGUAGE sql AS $$
  SELECT set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea, 0, (x & 255)::int), 1, ((x >> 8) & 255)::int),
                           2, ((x >> 16) & 255)::int), 3, ((x >> 24) & 255)::int) $$;

CREATE FUNCTION dec_fuzz(runs integer)
RETURNS TABLE (mutants integer, accepted integer, rejected_22p03 integer, other_errors integer, inconsistent integer)
LANGUAGE plpgsql AS $$
DECLARE
  base bytea;
  m bytea;
  len integer;
  pos integer;
  kind integer;
  st text;
  msg text;
  nrows bigint;
  nout integer;
  nbuy bigint;
  nitems integer;
BEGIN
  mutants := 0; accepted := 0; rejected_22p03 := 0; other_errors := 0; inconsistent := 0;
  PERFORM setseed(0.20261203);
  FOR run IN 1 .. runs LOOP
    SELECT r INTO base FROM dec_base WHERE n = 1 + run % 3;
    m := base;
    len := length(m);
    -- one to three mutations
    FOR step IN 1 .. 1 + floor(random() * 3)::int LOOP
      kind := floor(random() * 6)::int;
      pos := floor(random() * length(m))::int;
      IF kind = 0 THEN        -- flip a bit
        m := set_byte(m, pos, get_byte(m, pos) # (1 << floor(random() * 8)::int));
      ELSIF kind = 1 THEN     -- a random byte
        m := set_byte(m, pos, floor(random() * 256)::int);
      ELSIF kind = 2 THEN     -- an aligned int32 (a count, an offset, an id half) set to an edge value
        pos := (pos / 4) * 4;
        IF pos + 4 <= length(m) THEN
          m := overlay(m PLACING dec_le32((ARRAY[0, 1, -1, 2147483647, -2147483648, 3, 40, 41, 65536,
                                                 get_byte(m, pos) + 1, get_byte(m, pos) - 1])
                                          [1 + floor(random() * 11)::int]) FROM pos + 1);
        END IF;
      ELSIF kind = 3 THEN     -- truncate
        m := substr(m, 1, floor(random() * length(m))::int);
      ELSIF kind = 4 THEN     -- extend
        m := m || substr(base, 1, 1 + floor(random() * 16)::int);
      ELSE                    -- a header count (k, n_items, n_out, users, n_entries) changed by a little
        pos := (ARRAY[4, 8, 12, 16, 36])[1 + floor(random() * 5)::int];
        IF pos + 4 <= length(m) THEN
          m := overlay(m PLACING dec_le32(get_byte(m, pos) + (ARRAY[-2, -1, 1, 2, 8])[1 + floor(random() * 5)::int])
                       FROM pos + 1);
        END IF;
      END IF;
    END LOOP;
    mutants := mutants + 1;
    BEGIN
      SELECT count(*), count(DISTINCT item_id) INTO nrows, nout FROM item_neighbors(m);
      SELECT count(*) INTO nbuy FROM item_buyers(m);
      nitems := (item_neighbors_stats(m)->>'items')::integer;
      IF nout <> nrows OR nout <> (item_neighbors_stats(m)->>'items_out')::integer OR nbuy <> nitems THEN
        inconsistent := inconsistent + 1;
      END IF;
      accepted := accepted + 1;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
      IF st = '22P03' THEN
        rejected_22p03 := rejected_22p03 + 1;
      ELSE
        other_errors := other_errors + 1;
        RAISE NOTICE 'mutant % gave % %', run, st, msg;
      END IF;
    END;
  END LOOP;
  RETURN NEXT;
END $$;
SELECT * FROM dec_fuzz(3000);
DROP FUNCTION dec_fuzz(integer), dec_le32(bigint);
DROP TABLE dec_rows, dec_base;
