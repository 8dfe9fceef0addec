-- sqlite-test.sql: fed to Debian's riscv64 sqlite3 (dynamically linked) on
-- stdin, with a database file in an empty work directory.
.headers on
.mode list
PRAGMA journal_mode = WAL;
CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE emp(id INTEGER PRIMARY KEY, name TEXT, dept INTEGER REFERENCES dept(id),
                 salary REAL, hired TEXT);
CREATE INDEX emp_dept ON emp(dept);
BEGIN;
INSERT INTO dept(name) VALUES ('eng'), ('ops'), ('sales');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO emp(name, dept, salary, hired)
  SELECT printf('e%03d', i), 1 + i % 3, 1000 + (i * 37) % 500 + i / 7.0,
         date('2020-01-01', '+' || (i * 11) || ' days')
  FROM n;
COMMIT;
SELECT count(*) AS n, sum(salary) AS total, round(avg(salary), 4) AS mean,
       min(hired) AS first, max(hired) AS last FROM emp;
SELECT d.name, count(*) AS n, round(sum(e.salary), 2) AS payroll
  FROM emp e JOIN dept d ON d.id = e.dept GROUP BY d.name ORDER BY payroll DESC;
SELECT name, salary, rank() OVER (PARTITION BY dept ORDER BY salary DESC, name) AS r
  FROM emp WHERE id % 40 = 0 ORDER BY name;
SELECT strftime('%Y-%W %j %w', hired) AS week, count(*) FROM emp
  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3;
SELECT julianday('2024-02-29 12:00:00') - julianday('2000-01-01'),
       datetime(1700000000, 'unixepoch'), date('2024-01-31', '+1 month');
SELECT json_object('a', 1, 'b', json_array(1, 2.5, 'x', NULL)),
       json_extract('{"k": {"n": [10, 20, 30]}}', '$.k.n[1]');
SELECT upper('mixed'), substr('abcdef', 2, 3), instr('hello', 'll'), hex('AZ'),
       replace('a-b-c', '-', '+'), length(zeroblob(100)), typeof(1.0), 7 / 2, 7 / 2.0, 7 % 3;
SELECT printf('%.3f|%5d|%-5s|%x|%e', 3.14159, 42, 'ab', 255, 12345.6789);
SELECT 1e308 * 10, -(1e308 * 10), 9223372036854775807 + 0, abs(-9223372036854775807), round(2.5), round(-2.5);
UPDATE emp SET salary = salary * 1.1 WHERE dept = 2;
DELETE FROM emp WHERE id % 10 = 0;
SELECT count(*), round(sum(salary), 3) FROM emp;
SAVEPOINT sp; DELETE FROM emp; ROLLBACK TO sp; RELEASE sp;
SELECT count(*) FROM emp;
CREATE VIEW rich AS SELECT name FROM emp WHERE salary > 1500;
SELECT group_concat(name, ',') FROM (SELECT name FROM rich ORDER BY name LIMIT 5);
CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
INSERT INTO kv VALUES ('x', x'00ff10'), ('y', 'text'), ('z', 3.5);
INSERT INTO kv VALUES ('x', 1) ON CONFLICT(k) DO UPDATE SET v = excluded.v || '!';
SELECT k, typeof(v), quote(v) FROM kv ORDER BY k;
.mode column
SELECT id, name FROM dept ORDER BY id;
.mode csv
SELECT name, hired FROM emp ORDER BY id LIMIT 3;
PRAGMA integrity_check;
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
SELECT count(*) AS tables FROM sqlite_schema WHERE type = 'table';
