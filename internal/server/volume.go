package server

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// DefaultStateReserve is the free space serve keeps on its data volume for its own state
// (the store, certificates, configuration files): below it, CreateDBCluster is refused.
const DefaultStateReserve = 256 << 20

// volumeSpace is the data volume's space in bytes: free as the postgres account sees it
// (without the blocks reserved for root) and total.
func volumeSpace(dir string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// registerVolumeMetrics reports the data volume's space, read at each scrape.
func registerVolumeMetrics(reg prometheus.Registerer, dir string) {
	gauge := func(name, help string, pick func(free, total uint64) uint64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			free, total, err := volumeSpace(dir)
			if err != nil {
				return -1
			}
			return float64(pick(free, total))
		})
	}
	reg.MustRegister(
		gauge("borealis_data_volume_free_bytes", "Free space on the data volume (the data directory's file system), in bytes.",
			func(free, _ uint64) uint64 { return free }),
		gauge("borealis_data_volume_size_bytes", "Size of the data volume (the data directory's file system), in bytes.",
			func(_, total uint64) uint64 { return total }),
	)
}

// stateRoom says whether a new cluster leaves serve's reserve free on the data volume.
func stateRoom(dir string, reserve int64) func() error {
	return func() error {
		if reserve <= 0 {
			return nil
		}
		free, _, err := volumeSpace(dir)
		if err != nil {
			return nil // unknown: the create fails later if the space is not there
		}
		if free < uint64(reserve) {
			return fmt.Errorf("the data volume has %d MiB free, less than the %d MiB kept for the service's own state; free space or raise the volume's size first", free>>20, reserve>>20)
		}
		return nil
	}
}
