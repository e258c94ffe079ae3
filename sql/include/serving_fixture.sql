-- The serving fixture, shared by sql/serving.sql and test/serving.sql (\i from the top directory)
------------------------------------------------------------------------------
-- Fixture over itemcf_purchases (model 'default': cosine, binary, k 50, no window)
--
-- Core items, 4 buyers each, so every cosine is c / sqrt(4 * 4) = c / 4
-- (c = number of common buyers):
--   10: users {1,2,3,4}     20: users {1,5,6,7}     30: users {2,5,6,8}
--   35: users {4,7,9,10}    40: users {3,4,8,9}     50: users {6,7,10,11}
-- Common buyers:
--   10-20 {1}   10-30 {2}   10-35 {4}   10-40 {3,4}  10-50 none
--   20-30 {5,6} 20-35 {7}   20-40 none  20-50 {6,7}
--   30-35 none  30-40 {8}   30-50 {6}   35-40 {4,9}  35-50 {7,10}  40-50 none
-- so the neighbour lists (score desc, then id) are
--   10: 40 .5, 20 .25, 30 .25, 35 .25      20: 30 .5, 50 .5, 10 .25, 35 .25
--   30: 20 .5, 10 .25, 40 .25, 50 .25      35: 40 .5, 50 .5, 10 .25, 20 .25
--   40: 10 .5, 35 .5, 30 .25               50: 20 .5, 35 .5, 30 .25
-- 60, 70: bought together by users 201 and 202 only: cosine 2 / sqrt(2 * 2) = 1.
-- 95, 85, 90: isolated items (one-item users 101..116): 6, 5 and 5 buyers, no neighbours.
-- Popular order (buyers desc, then id): 95(6) 85(5) 90(5) 10 20 30 35 40 50 (4) 60 70 (2).
-- User 1 bought 10 (10 days ago) and 20 (5 days ago, and again 20 days ago: a repeat).
------------------------------------------------------------------------------
INSERT INTO itemcf_purchases (user_id, item_id, purchased_at) VALUES
  (1, 10, now() - interval '10 days'), (1, 20, now() - interval '5 days'), (1, 20, now() - interval '20 days'),
  (2, 10, now()), (2, 30, now()),
  (3, 10, now()), (3, 40, now()),
  (4, 10, now()), (4, 40, now()), (4, 35, now()),
  (5, 20, now()), (5, 30, now()),
  (6, 20, now()), (6, 30, now()), (6, 50, now()),
  (7, 20, now()), (7, 35, now()), (7, 50, now()),
  (8, 30, now()), (8, 40, now()),
  (9, 40, now()), (9, 35, now()),
  (10, 35, now()), (10, 50, now()),
  (11, 50, now()),
  (201, 60, now()), (201, 70, now()), (202, 60, now()), (202, 70, now());
INSERT INTO itemcf_purchases (user_id, item_id)
  SELECT u, CASE WHEN u <= 106 THEN 95 WHEN u <= 111 THEN 85 ELSE 90 END FROM generate_series(101, 116) u;
