package importer

import "syscall"

// Magic numbers of the file systems that inotify cannot see remote changes on (statfs(2)).
var networkFS = map[int64]string{
	0x6969:     "nfs",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x517b:     "smb",
	0x65735546: "fuse",
	0x01021997: "9p (v9fs)",
	0x0bd00bd0: "lustre",
	0x47504653: "gpfs",
	0x73757245: "coda",
	0x564c:     "ncp",
	0x6e667364: "nfsd",
	0x00c36400: "ceph",
}

// detectNetworkFS reports whether dir is on a network or FUSE file system.
func detectNetworkFS(dir string) (string, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "", false
	}
	name, ok := networkFS[int64(st.Type)]
	return name, ok
}
