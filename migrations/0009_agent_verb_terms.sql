-- `agent` + `verb` queries walked every Statement of the agent and probed its verb
-- (about 1,000 probes per learner at a million Statements). Each Statement is now also
-- filed under every pair of an agent the plain `agent` filter matches (kinds 1, 2, 8,
-- 9: actor, object and their Group members) and its verb, as one term of kind 203
-- ("<verb IRI> <agent IFI>"). A Statement that inherited its target's terms through a
-- StatementRef pairs every agent and verb it holds, as the write path does.
INSERT INTO statement_index (store_id, seq, kind, term)
SELECT DISTINCT a.store_id, a.seq, 203::int2, v.term || ' ' || a.term
  FROM statement_index a
  JOIN statement_index v ON v.store_id = a.store_id AND v.seq = a.seq AND v.kind = 201
 WHERE a.kind IN (1, 2, 8, 9);
