package steer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// bpffs is where the kernel's BPF file system is mounted, as systemd mounts it.
const bpffs = "/sys/fs/bpf"

// PinDir is the bpffs directory where the programs, maps and links of the serve whose
// data directory is dataDir are pinned: /sys/fs/bpf/borealis/<hash of dataDir's real
// path>, the same whichever relative path or symbolic link names it. It mounts the BPF
// file system at /sys/fs/bpf where nothing has.
func PinDir(dataDir string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("steer: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	var st unix.Statfs_t
	if err := unix.Statfs(bpffs, &st); err != nil {
		return "", fmt.Errorf("steer: %s: %w", bpffs, err)
	}
	if st.Type != unix.BPF_FS_MAGIC {
		if err := unix.Mount("bpf", bpffs, "bpf", 0, "mode=0700"); err != nil {
			return "", fmt.Errorf("steer: mount the BPF file system on %s: %w", bpffs, err)
		}
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(bpffs, "borealis", hex.EncodeToString(sum[:8])), nil
}

// pins opens and creates what one part (steering, the fence) pins under dir; with no
// dir, nothing is pinned and everything goes with the process.
type pins struct {
	dir   string
	names []string // what is ours in dir
}

func newPins(dir, part string) (*pins, error) {
	if dir == "" {
		return &pins{}, nil
	}
	p := &pins{dir: filepath.Join(dir, part)}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: pins: %w", part, err)
	}
	return p, nil
}

// newMap opens the map pinned under spec's name, or creates one and pins it. A pinned
// map of another shape (an older Borealis), or any with fresh, is replaced by a new,
// empty one; the programs the old one served keep it until they are replaced. adopted
// says whether the map was found pinned.
func (p *pins) newMap(spec *ebpf.MapSpec, fresh bool) (m *ebpf.Map, adopted bool, err error) {
	if p.dir == "" {
		m, err = ebpf.NewMap(spec)
		return m, false, err
	}
	path := filepath.Join(p.dir, spec.Name)
	if !slices.Contains(p.names, spec.Name) {
		p.names = append(p.names, spec.Name)
	}
	if m, err = ebpf.LoadPinnedMap(path, nil); err == nil {
		if !fresh && spec.Compatible(m) == nil {
			return m, true, nil
		}
		m.Close()
		if err := os.Remove(path); err != nil {
			return nil, false, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if m, err = ebpf.NewMap(spec); err != nil {
		return nil, false, err
	}
	if err := m.Pin(path); err != nil {
		m.Close()
		return nil, false, err
	}
	return m, false, nil
}

// attach puts prog in force through the link pinned as name, replacing the program it
// held in one step (no moment without one), or attaches it and pins the link.
func (p *pins) attach(name string, prog *ebpf.Program, attach func() (link.Link, error)) (link.Link, error) {
	if p.dir == "" {
		return attach()
	}
	path := filepath.Join(p.dir, name)
	p.names = append(p.names, name)
	old, err := link.LoadPinnedLink(path, nil)
	if err == nil {
		if err := old.Update(prog); err == nil {
			return old, nil
		}
		// Not a link this program can replace: attach afresh beside it, then let it go.
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := attach()
	if err == nil && old != nil {
		err = old.Unpin()
	}
	if err == nil {
		err = l.Pin(path)
	}
	if old != nil {
		old.Close()
	}
	if err != nil {
		if l != nil {
			l.Close()
		}
		return nil, err
	}
	return l, nil
}

// tidy removes what an older Borealis pinned in dir and this one no longer uses.
func (p *pins) tidy() {
	if p.dir == "" {
		return
	}
	entries, _ := os.ReadDir(p.dir)
	for _, e := range entries {
		if !slices.Contains(p.names, e.Name()) {
			_ = os.Remove(filepath.Join(p.dir, e.Name()))
		}
	}
}

// unpin removes every pin of this part, and the directories left empty: once this
// process closes its descriptors, the programs are detached and the maps freed.
func (p *pins) unpin() {
	if p.dir == "" {
		return
	}
	_ = os.RemoveAll(p.dir)
	// The serve's and the borealis directories, if nothing else is pinned there.
	_ = os.Remove(filepath.Dir(p.dir))
	_ = os.Remove(filepath.Dir(filepath.Dir(p.dir)))
}
