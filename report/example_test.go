package report_test

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/octane-import/octane-import/report"
)

// The importer's loop: decide from the head, then encode each run as it
// comes, then take the summary.
func ExampleDecoder() {
	const doc = `<testsuite name="example.com/app/api" timestamp="2024-10-24T14:07:54" time="11">
  <properties><property name="branch" value="main"/></properties>
  <testcase classname="example.com/app/api" name="TestRace" time="3.3"><failure message="Failed">race</failure></testcase>
  <testcase classname="example.com/app/api" name="TestOK" time="0.5"/>
  <testcase classname="example.com/app/api" name="TestRace" time="7.2"/>
</testsuite>`
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		fmt.Println(err)
		return
	}
	d := report.NewDecoder(strings.NewReader(doc), "api.xml", report.Options{Location: berlin})
	head, err := d.Head()
	if err != nil {
		fmt.Println(err)
		return
	}
	branch, _ := head.Property("branch")
	zone := ""
	if head.ZoneLess {
		zone = ", zone-less, read as " + head.Location.String()
	}
	fmt.Printf("branch %s, started %s%s\n", branch, head.Timestamp.UTC().Format(time.RFC3339), zone)
	d.SetNaming(report.NamingCLT) // as the rule says, before the first run
	for {
		run, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err) // the file failed: drop what was encoded of it
			return
		}
		fmt.Printf("%s | %s | %s: %s flaky=%v reruns=%d\n", run.Package, run.Class, run.Name, run.Status, run.Flaky, run.Reruns)
	}
	sum := d.Summary()
	fmt.Printf("%+v, took %s\n", sum.Counts, sum.Elapsed())
	for _, w := range sum.Warnings {
		fmt.Println(w.Code, "-", w)
	}
	// Output:
	// branch main, started 2024-10-24T12:07:54Z, zone-less, read as Europe/Berlin
	// example | com/app/api | TestOK: Passed flaky=false reruns=0
	// example | com/app/api | TestRace: Passed flaky=true reruns=1
	// {Total:2 Passed:2 Failed:0 Skipped:0 Flaky:1}, took 11s
	// rerun-merged - api.xml:5: testcase "TestRace" (classname "example.com/app/api") repeats a failed one from line 3 of its suite: read as a rerun, one run with the last attempt's result
}
