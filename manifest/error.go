package manifest

import "github.com/octane-import/octane-import/internal/yamlnode"

// Problem is one thing wrong with a manifest, at a position in its file:
// File is the path as given to Parse or Load, Line and Column are 1-based (0
// when unknown; the column counts characters), Path is the field, e.g.
// "build.started" or "parameters[1].type" ("" for the whole file). Its
// String form is "file:line:col: path: msg", unknown parts left out.
type Problem = yamlnode.Problem

// Error holds every problem found in one manifest, in file order (never
// none). Parse and Load return it (as an error) whenever the file is not a
// valid manifest; its Error prints one problem per line.
type Error = yamlnode.Error
