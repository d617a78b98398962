//go:build linux

package importer

import (
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// entryStat reads the size and mtime of the files a walk meets relative to their folder,
// with fstatat on the folder held open, rather than by their whole path (what an lstat, and
// fs.DirEntry.Info, does): the kernel then resolves one name instead of every folder of the
// path again, and no FileInfo is made. A rescan stats every report it passes, so this is a
// good part of its time. It keeps the last folder open: a walk visits a folder's files one
// after another. The zero value is ready; close releases the folder.
type entryStat struct {
	dir string // the folder held open, with its trailing separator
	fd  int    // its descriptor, when dir != ""
	st  unix.Stat_t
}

// stat returns what admit needs of the entry d at path: a regular file or not, its size
// and mtime. Errors are the *fs.PathError an lstat gives.
func (s *entryStat) stat(path string, d fs.DirEntry) (regular bool, size int64, mtime time.Time, err error) {
	dir, name := filepath.Split(path)
	if dir != s.dir {
		s.close()
		fd, err := openDir(dir)
		if err != nil {
			return statEntry(d)
		}
		s.dir, s.fd = dir, fd
	}
	for {
		err = unix.Fstatat(s.fd, name, &s.st, unix.AT_SYMLINK_NOFOLLOW)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return false, 0, time.Time{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return s.st.Mode&unix.S_IFMT == unix.S_IFREG, s.st.Size, time.Unix(s.st.Mtim.Unix()), nil
}

func openDir(dir string) (int, error) {
	for {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// close releases the folder held open.
func (s *entryStat) close() {
	if s.dir != "" {
		_ = unix.Close(s.fd)
		s.dir = ""
	}
}
