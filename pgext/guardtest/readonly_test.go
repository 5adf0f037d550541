package guardtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// setReadOnly turns borealis.read_only on or off as serve does: the server's
// configuration, then a reload.
func setReadOnly(t *testing.T, on bool) {
	t.Helper()
	v := "off"
	if on {
		v = "on"
	}
	setServerLogging(t, map[string]string{"borealis.read_only": v})
}

// wantStorageFull checks err is PostgreSQL's read-only refusal (25006) saying
// the cluster is storage-full.
func wantStorageFull(t *testing.T, what string, err error) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Errorf("%s: want ERROR 25006 (storage-full), got %v", what, err)
		return
	}
	if pe.Code != "25006" || !strings.Contains(pe.Message, "storage-full") {
		t.Errorf("%s: want ERROR 25006 saying storage-full, got %s %q", what, pe.Code, pe.Message)
	}
}

// TestReadOnlySwitch: with borealis.read_only on, the master user (a member
// of rds_superuser) writes nothing, however it tries, and may still free
// space; with it off again, writes work.
func TestReadOnlySwitch(t *testing.T) {
	m := as(t, master)
	for _, q := range []string{
		"DROP TABLE IF EXISTS ro_t, ro_big, ro_log CASCADE",
		"DROP SEQUENCE IF EXISTS ro_seq",
		"DROP FUNCTION IF EXISTS ro_write()",
		"DROP SCHEMA IF EXISTS ro_schema CASCADE",
		"CREATE TABLE ro_t (id int)",
		"CREATE TABLE ro_big (id int)",
		"CREATE INDEX ro_big_i ON ro_big (id)",
		"CREATE TABLE ro_log (id int)",
		"SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = 4242",
		"SELECT lo_create(4242)",
		"CREATE SCHEMA ro_schema",
		"CREATE TABLE ro_schema.x (id int)",
		"CREATE SEQUENCE ro_seq",
		"INSERT INTO ro_t VALUES (1)",
		"INSERT INTO ro_big SELECT generate_series(1, 1000)",
		"CREATE FUNCTION ro_write() RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ro_t VALUES (2); RETURN 1; END $$",
	} {
		mustExec(t, m, q)
	}
	// A session that made a temporary table before the switch, and opened a large object.
	early := as(t, master)
	mustExec(t, early, "CREATE TEMP TABLE ro_temp (id int)")
	setReadOnly(t, true)
	m = as(t, master)

	for _, q := range []string{"INSERT INTO ro_temp VALUES (1)", "UPDATE ro_temp SET id = 2", "WITH x AS (INSERT INTO ro_temp VALUES (3) RETURNING id) SELECT * FROM x"} {
		_, err := early.Exec(ctxT(t), q)
		wantStorageFull(t, q+" (a temporary table)", err)
	}
	_, err := early.PgConn().CopyFrom(ctxT(t), strings.NewReader("9\n"), "COPY ro_temp FROM STDIN")
	wantStorageFull(t, "COPY FROM into a temporary table", err)

	refused := []struct{ what, sql string }{
		{"INSERT", "INSERT INTO ro_t VALUES (3)"},
		{"UPDATE", "UPDATE ro_t SET id = 4"},
		{"DELETE", "DELETE FROM ro_t"},
		{"SELECT FOR UPDATE", "SELECT * FROM ro_t FOR UPDATE"},
		{"modifying CTE", "WITH x AS (INSERT INTO ro_t VALUES (5) RETURNING id) SELECT * FROM x"},
		{"a function that writes, called from SELECT", "SELECT ro_write()"},
		{"SELECT nextval", "SELECT nextval('ro_seq')"},
		{"SELECT setval", "SELECT setval('ro_seq', 100)"},
		{"CREATE TABLE", "CREATE TABLE ro_new (id int)"},
		{"CREATE TABLE AS", "CREATE TABLE ro_new AS SELECT 1 AS id"},
		{"SELECT INTO", "SELECT 1 AS id INTO ro_new"},
		{"CREATE INDEX", "CREATE INDEX ro_t_i ON ro_t (id)"},
		{"ALTER TABLE", "ALTER TABLE ro_t ADD COLUMN c text"},
		{"DO block", "DO $$ BEGIN INSERT INTO ro_t VALUES (6); END $$"},
		{"DO block with EXECUTE", "DO $$ BEGIN EXECUTE 'INSERT INTO ro_t VALUES (7)'; END $$"},
		{"lo_from_bytea", "SELECT lo_from_bytea(0, 'x')"},
		{"lo_create", "SELECT lo_create(0)"},
		{"lo_creat", "SELECT lo_creat(-1)"},
		{"lo_put into an existing large object", "SELECT lo_put(4242, 0, 'x')"},
		{"lowrite into an existing large object", "SELECT lowrite(lo_open(4242, 131072), 'x')"},
		{"lo_truncate", "SELECT lo_truncate(lo_open(4242, 131072), 1000000)"},
		{"NOTIFY", "NOTIFY ro_channel, 'x'"},
		{"pg_notify", "SELECT pg_notify('ro_channel', 'x')"},
		{"nextval in a PL/pgSQL expression", "DO $$ DECLARE n bigint; BEGIN n := nextval('ro_seq'); END $$"},
		{"CREATE DATABASE", "CREATE DATABASE ro_db"},
		{"materialized view", "CREATE MATERIALIZED VIEW ro_mv AS SELECT 1"},
		// WAL only, but every byte of it is written to the volume.
		{"pg_logical_emit_message", "SELECT pg_logical_emit_message(false, 'ro', repeat('x', 100000))"},
		{"pg_logical_emit_message (bytea)", "SELECT pg_logical_emit_message(true, 'ro', '\\x00'::bytea)"},
		// Canceled or failed, it leaves its new index behind (invalid, but full size): a
		// loop of them fills the volume.
		{"REINDEX CONCURRENTLY", "REINDEX INDEX CONCURRENTLY ro_big_i"},
		{"REINDEX TABLE CONCURRENTLY", "REINDEX (VERBOSE) TABLE CONCURRENTLY ro_big"},
		// The other rewrites take a table's or an index's size more before the old goes.
		{"REINDEX", "REINDEX INDEX ro_big_i"},
		{"CLUSTER", "CLUSTER ro_big USING ro_big_i"},
		{"VACUUM FULL", "VACUUM FULL ro_big"},
		{"VACUUM (FULL)", "VACUUM (FULL, ANALYZE) ro_big"},
		{"VACUUM (FULL true)", "VACUUM (FULL true) ro_big"},
	}
	for _, r := range refused {
		_, err := m.Exec(ctxT(t), r.sql)
		wantStorageFull(t, r.what, err)
	}

	// COPY FROM
	_, err = m.PgConn().CopyFrom(ctxT(t), strings.NewReader("9\n"), "COPY ro_t FROM STDIN")
	wantStorageFull(t, "COPY FROM", err)

	// Attempts to turn the mode off first.
	bypasses := []struct {
		what string
		sqls []string
	}{
		{"SET default_transaction_read_only = off", []string{"SET default_transaction_read_only = off", "INSERT INTO ro_t VALUES (10)"}},
		{"BEGIN READ WRITE", []string{"BEGIN READ WRITE", "INSERT INTO ro_t VALUES (11)"}},
		{"SET TRANSACTION READ WRITE", []string{"BEGIN", "SET TRANSACTION READ WRITE", "INSERT INTO ro_t VALUES (12)"}},
		{"SET transaction_read_only = off", []string{"BEGIN", "SET transaction_read_only = off", "SELECT nextval('ro_seq')"}},
		{"set_config", []string{"BEGIN", "SELECT set_config('transaction_read_only', 'off', true)", "INSERT INTO ro_t VALUES (13)"}},
		{"after a DROP", []string{"BEGIN", "DROP TABLE IF EXISTS ro_none", "INSERT INTO ro_t VALUES (14)"}},
		{"DO block resetting the mode first", []string{"DO $$ BEGIN SET LOCAL transaction_read_only = off; INSERT INTO ro_t VALUES (8); END $$"}},
		{"after ROLLBACK TO SAVEPOINT", []string{"BEGIN", "SAVEPOINT a", "SELECT 1", "ROLLBACK TO SAVEPOINT a", "INSERT INTO ro_t VALUES (15)"}},
	}
	for _, b := range bypasses {
		c := as(t, master)
		var err error
		for _, q := range b.sqls {
			if _, err = c.Exec(ctxT(t), q); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("%s: the write went through", b.what)
			continue
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "25006" && pe.Code != "42501" && pe.Code != "25001") {
			t.Errorf("%s: want a refusal, got %v", b.what, err)
		}
	}

	// The switch itself is the server configuration's.
	for _, q := range []string{
		"SET borealis.read_only = off",
		"SELECT set_config('borealis.read_only', 'off', false)",
		"ALTER SYSTEM SET borealis.read_only = off",
		"ALTER ROLE " + master + " SET borealis.read_only = off",
		"ALTER DATABASE " + database + " SET borealis.read_only = off",
	} {
		if _, err := m.Exec(ctxT(t), q); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}

	// Reading works, and so does what frees space.
	var n int
	if err := m.QueryRow(ctxT(t), "SELECT count(*) FROM ro_t").Scan(&n); err != nil || n != 1 {
		t.Errorf("SELECT while read-only: %d, %v", n, err)
	}
	for _, q := range []string{
		"DROP INDEX ro_big_i",
		"TRUNCATE ro_big",
		"DROP TABLE ro_big",
		"DROP SCHEMA ro_schema CASCADE",
		"VACUUM ro_t",
		"VACUUM (FULL false) ro_t",
		"ANALYZE ro_t",
	} {
		mustExec(t, m, q)
	}
	// In one transaction too, after a refused-mode statement.
	tx, err := m.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), "SELECT count(*) FROM ro_t"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), "DROP TABLE ro_log"); err != nil {
		t.Errorf("DROP TABLE in a transaction: %v", err)
	}
	if _, err := tx.Exec(ctxT(t), "INSERT INTO ro_t VALUES (16)"); err == nil {
		t.Error("INSERT after a DROP in the same transaction went through")
	}
	tx.Rollback(ctxT(t))

	// A client's own read-only transaction keeps PostgreSQL's message.
	_, err = m.Exec(ctxT(t), "BEGIN READ ONLY; DROP TABLE ro_t; COMMIT")
	wantPgError(t, "DROP in a client's READ ONLY transaction", err, "25006", "cannot execute DROP TABLE in a read-only transaction")
	m = as(t, master)

	// rdsadmin (serve) is not held.
	adminExec(t, "DO $$ BEGIN EXECUTE format('INSERT INTO %I.ro_t VALUES (17)', (SELECT relnamespace::regnamespace::text FROM pg_class WHERE relname = 'ro_t')); END $$")
	mustExec(t, m, "SELECT lo_unlink(4242)")

	setReadOnly(t, false)
	m = as(t, master)
	for _, q := range []string{
		"INSERT INTO ro_t VALUES (18)",
		"SELECT nextval('ro_seq')",
		"SELECT ro_write()",
		"DROP TABLE ro_t CASCADE",
		"DROP SEQUENCE ro_seq",
		"DROP FUNCTION ro_write()",
	} {
		mustExec(t, m, q)
	}
}
