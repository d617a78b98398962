// Package mapping holds the rules of a configuration file and decides, for each report,
// where it goes: which Octane target, CI server, pipeline, job and build, what is said of
// its build, and which extra fields its runs get (Decide, and Build for a build of several
// reports). The built-in rule applies without a file (Default, DefaultFor).
//
// It knows nothing of HTTP, reads no file and no report: its inputs are plain values (the
// manifest, the report's facts, the file's path and times, the environment). Package config
// loads the file and hands the `rules:` list to ParseRules. The rules are documented in
// docs/configuration.md.
package mapping

// Rules are a configuration's rules, in order: the first whose conditions all hold
// decides a report (see Decide).
type Rules []*Rule
