// What sql-migrate's `status` prints for given rows, without a database: the same
// tablewriter settings and the same time formatting, for the differential test of
// `status --format sql-migrate` (runtime/tests/sql_migrate_cli.rs). Built at test time in
// GOPATH mode from Debian's packages.
//
// Input on stdin, one case after another, each ended by a line "@@":
//   "?<TAB>ID"          a history row without a file (a warning line);
//   "ID<TAB>-"          a migration not applied;
//   "ID<TAB>APPLIED_AT" a migration applied at APPLIED_AT, as the server sends it.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	table := newTable(out)
	for in.Scan() {
		line := in.Text()
		if line == "@@" {
			table.Render()
			table = newTable(out)
			continue
		}
		fields := strings.SplitN(line, "\t", 2)
		switch {
		case fields[0] == "?":
			fmt.Fprintf(out, "Could not find migration file: %v\n", fields[1])
		case fields[1] == "-":
			table.Append([]string{fields[0], "no"})
		default:
			// go-sql-driver with parseTime=true and loc=UTC; Parse takes the fraction.
			at, err := time.Parse("2006-01-02 15:04:05", fields[1])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			table.Append([]string{fields[0], at.String()})
		}
	}
}

// The table as sql-migrate's status command sets it up.
func newTable(out *bufio.Writer) *tablewriter.Table {
	table := tablewriter.NewWriter(out)
	table.SetHeader([]string{"Migration", "Applied"})
	table.SetColWidth(60)
	return table
}
