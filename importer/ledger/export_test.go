package ledger

// PGURLForTest creates a database on the tests' PostgreSQL server for an external test and
// returns its URL (the test skips, or fails on CI, when there is no server).
var PGURLForTest = pgURL
