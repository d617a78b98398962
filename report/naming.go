package report

import (
	"fmt"
	"strings"
)

// Naming is how a testcase becomes Octane's test identity (package, class,
// name). Octane keys a test by those three, and the official clients make them
// differently, so a team whose history came from one of them keeps its tests
// only with the same naming. docs/test-naming.md shows the three with examples.
//
// The name is the testcase's name in every style (an unnamed testcase is kept
// as "[unnamed testcase #N]" in every style: no client's choice there, dropping
// it or sending an empty name, loses a result).
type Naming uint8

const (
	// NamingSplit (the default, "split") takes the classname (else the class
	// attribute Codeception writes, else the suite name, as Jenkins does) and
	// splits it at its last ".", "/", "\" or "::", keeping file names
	// ("test_foo.py", "Button.test.tsx") and classnames with blanks whole.
	NamingSplit Naming = iota
	// NamingCLT ("clt") splits the classname attribute at its last "." as the
	// Test Result Collection Tool and the Jenkins plugin do: the class is what
	// follows the dot, the package what precedes it (none when the dot is the
	// first character). No classname gives no package and no class.
	NamingCLT
	// NamingConverter ("converter") keeps the classname attribute whole as the
	// class, with no package, as Octane's JUnit converter does (inside the
	// GitHub Actions and Azure DevOps integrations). No classname gives no class.
	NamingConverter
)

var namingNames = [...]string{NamingSplit: "split", NamingCLT: "clt", NamingConverter: "converter"}

// String returns "split", "clt" or "converter".
func (n Naming) String() string {
	if int(n) < len(namingNames) {
		return namingNames[n]
	}
	return fmt.Sprintf("Naming(%d)", n)
}

// ParseNaming reads a naming style as a configuration file spells it: "clt",
// "converter", or "split" ("" and "default" are "split").
func ParseNaming(s string) (Naming, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default", "split":
		return NamingSplit, nil
	case "clt":
		return NamingCLT, nil
	case "converter":
		return NamingConverter, nil
	}
	return 0, fmt.Errorf("test naming %q: want split, clt or converter", s)
}

// Split makes a package and a class of a classname in this style. The
// classname is the one Run.Classname holds (for NamingSplit, after its
// fallbacks), so Split(run.Classname) gives run.Package and run.Class.
func (n Naming) Split(classname string) (pkg, class string) {
	switch n {
	case NamingCLT:
		// CLT's JunitXmlIterator and the Jenkins plugin's:
		//   int p = fqn.lastIndexOf('.'); className = fqn.substring(p + 1); if (p > 0) packageName = fqn.substring(0, p);
		p := strings.LastIndexByte(classname, '.')
		if p > 0 {
			pkg = classname[:p]
		}
		return pkg, classname[p+1:]
	case NamingConverter:
		return "", classname
	}
	return splitClassname(classname)
}

// classname picks the classname a run is named from: for NamingSplit the
// classname attribute, else the class attribute, else the suite name; for the
// other styles the classname attribute as written.
func (n Naming) classname(attr string, hasAttr bool, classAttr, suite string) string {
	if n != NamingSplit {
		return attr
	}
	if !hasAttr || strings.TrimSpace(attr) == "" {
		attr = classAttr // Codeception writes class=
	}
	if strings.TrimSpace(attr) == "" {
		attr = suite // as Jenkins does
	}
	return attr
}
