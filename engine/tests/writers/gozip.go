// Command gozip writes a zip archive with Go's archive/zip, for the writer corpus test
// (engine/tests/writers.rs).
//
// Usage: gozip OUT.zip BASEDIR NAME...
//
// Each NAME is read from BASEDIR/NAME and stored under NAME, in argument order. Names
// ending in ".bin" are stored, everything else is deflated; archive/zip streams both
// with data descriptors, which is the point of having this writer in the corpus.
package main

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gozip:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: gozip OUT.zip BASEDIR NAME...")
	}
	out, err := os.Create(args[0])
	if err != nil {
		return err
	}
	defer out.Close()
	w := zip.NewWriter(out)
	// A fixed timestamp keeps the archive reproducible.
	stamp := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, name := range args[2:] {
		data, err := os.ReadFile(filepath.Join(args[1], filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		method := zip.Deflate
		if strings.HasSuffix(name, ".bin") {
			method = zip.Store
		}
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: stamp})
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return out.Close()
}
