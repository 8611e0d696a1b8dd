// Command goread reads a zip archive with Go's archive/zip, for the differential test
// (engine/tests/differential.rs).
//
// Usage: goread ARCHIVE
//
// It prints one line per file in two views: "raw" (each File as the central directory
// names it, read with File.Open) and "fs" (the archive as an fs.FS, whose names Go
// cleans: no "..", no "//", backslashes as separators). A line is
// "VIEW NAME DATA" with name and data in hex, or "VIEW NAME error" when reading fails.
// An archive Go cannot open at all prints "refused MESSAGE".
package main

import (
	"archive/zip"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
)

func main() {
	r, err := zip.OpenReader(os.Args[1])
	if err != nil {
		fmt.Println("refused", err)
		return
	}
	defer r.Close()
	for _, f := range r.File {
		if f.FileInfo().IsDir() {
			continue
		}
		print("raw", f.Name, readAll(f.Open))
	}
	err = fs.WalkDir(r, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		print("fs", path, readAll(func() (io.ReadCloser, error) {
			f, err := r.Open(path)
			return f, err
		}))
		return nil
	})
	if err != nil {
		fmt.Println("fs-refused", err)
	}
}

// readAll reads one file, nil on any error. Files above 64 MiB count as errors.
func readAll(open func() (io.ReadCloser, error)) []byte {
	rc, err := open()
	if err != nil {
		return nil
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 64<<20+1))
	if err != nil || len(data) > 64<<20 {
		return nil
	}
	if data == nil {
		data = []byte{}
	}
	return data
}

func print(view, name string, data []byte) {
	if data == nil {
		fmt.Println(view, hex.EncodeToString([]byte(name)), "error")
		return
	}
	fmt.Println(view, hex.EncodeToString([]byte(name)), hex.EncodeToString(data))
}
