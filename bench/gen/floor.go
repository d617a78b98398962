package gen

import (
	"encoding/xml"
	"io"
	"os"
)

// TokenFloor reads the report at path and tokenises it with encoding/xml (RawToken),
// counting its test cases: the floor under any reader of the reports Write and WriteSuite
// make, which the benchmarks compare the readers with.
func TokenFloor(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	n := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "testcase" {
			n++
		}
	}
}
