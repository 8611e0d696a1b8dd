// Parses each file named on the command line with sql-migrate's own sqlparse package
// and prints one JSON object per line, for the differential test in sqlparse_oracle.rs.
package main

import (
	"bufio"
	"encoding/json"
	"os"

	"github.com/rubenv/sql-migrate/sqlparse"
)

type result struct {
	Up     []string `json:"up"`
	Down   []string `json:"down"`
	UpNoTx bool     `json:"up_notx"`
	DnNoTx bool     `json:"down_notx"`
	Error  string   `json:"error"`
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for _, path := range os.Args[1:] {
		var r result
		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		p, err := sqlparse.ParseMigration(f)
		f.Close()
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Up, r.Down = p.UpStatements, p.DownStatements
			r.UpNoTx, r.DnNoTx = p.DisableTransactionUp, p.DisableTransactionDown
		}
		if err := enc.Encode(r); err != nil {
			panic(err)
		}
	}
}
