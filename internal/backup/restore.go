package backup

import (
	"context"
	"errors"
)

func (m *Manager) restore(ctx context.Context, req RestoreRequest) error {
	return errors.New("backup: restore is not built yet")
}
