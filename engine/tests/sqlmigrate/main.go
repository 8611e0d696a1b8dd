// A tiny driver around the real sql-migrate library, for interop tests and benchmarks.
// Built at test time in GOPATH mode from Debian's packages; never committed as a binary.
//
// Usage: sqlmigrate DSN DIR up|down|status [MAX]
// The history table is SQLMIGRATE_TABLE when set.
package main

import (
	"database/sql"
	"fmt"
	"os"
	"strconv"

	_ "github.com/go-sql-driver/mysql"
	migrate "github.com/rubenv/sql-migrate"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: sqlmigrate DSN DIR up|down|status [MAX]")
		os.Exit(2)
	}
	dsn, dir, cmd := os.Args[1], os.Args[2], os.Args[3]
	max := 0
	if len(os.Args) > 4 {
		n, err := strconv.Atoi(os.Args[4])
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad MAX:", err)
			os.Exit(2)
		}
		max = n
	}
	if t := os.Getenv("SQLMIGRATE_TABLE"); t != "" {
		migrate.SetTable(t)
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer db.Close()
	source := migrate.FileMigrationSource{Dir: dir}
	switch cmd {
	case "up", "down":
		dirn := migrate.Up
		if cmd == "down" {
			dirn = migrate.Down
		}
		n, err := migrate.ExecMax(db, "mysql", source, dirn, max)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d\n", n)
	case "status":
		records, err := migrate.GetMigrationRecords(db, "mysql")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, r := range records {
			fmt.Printf("%s\t%s\n", r.Id, r.AppliedAt.UTC().Format("2006-01-02 15:04:05"))
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", cmd)
		os.Exit(2)
	}
}
