package rds

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/dblog"
	"github.com/borealis-db/borealis/internal/store"
)

// InstanceLogs finds instances' PostgreSQL log directories on the host (the reconciler,
// which knows where each server writes).
type InstanceLogs interface {
	InstanceLogDir(ctx context.Context, instanceID string) (string, error)
}

// Download limits, as RDS documents them: 10000 lines when NumberOfLines is not given,
// never more than 1 MB in one answer.
const (
	defaultLogLines = 10000
	maxLogPortion   = 1 << 20
)

var (
	describeLogFilesMembers = paged.With(members{"DBInstanceIdentifier": acted, "FilenameContains": acted,
		"FileLastWritten": acted, "FileSize": acted, "Filters": filters()})
	downloadLogPortionMembers = members{"DBInstanceIdentifier": acted, "LogFileName": acted, "Marker": acted, "NumberOfLines": acted}
)

// logDir returns the log directory of instance raw. A request names a file only by one
// of the names dblog lists: nothing a caller sends becomes part of a path.
func (s *Service) logDir(ctx context.Context, raw string) (string, error) {
	if raw == "" {
		return "", awsquery.MissingParameter("DBInstanceIdentifier")
	}
	if s.cfg.Logs == nil {
		return "", awsquery.Errorf(http.StatusBadRequest, "InvalidParameterCombination", "This Borealis serves no database logs.")
	}
	dir, err := s.cfg.Logs.InstanceLogDir(ctx, strings.ToLower(raw))
	if errors.Is(err, store.ErrNotFound) {
		return "", instanceNotFound(raw)
	}
	return dir, err
}

func (s *Service) describeDBLogFiles(ctx context.Context, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	since, hasSince, err := int64Member(p, "FileLastWritten")
	if err != nil {
		return nil, err
	}
	larger, hasSize, err := int64Member(p, "FileSize")
	if err != nil {
		return nil, err
	}
	dir, err := s.logDir(ctx, p.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	files, err := dblog.List(dir) // oldest first, which is by name
	if err != nil {
		s.log.Warn("instance logs not listed", "dir", dir, "err", err)
		files = nil
	}
	var res describeDBLogFilesResult
	for _, f := range files {
		name := dblog.NamePrefix + f.Name
		switch {
		case !strings.Contains(name, p.String("FilenameContains")),
			hasSince && f.Mod.UnixMilli() < since,
			hasSize && f.Size <= larger,
			marker != "" && name <= marker:
			continue
		}
		if len(res.Files.Items) == maxRecords {
			res.Marker = res.Files.Items[maxRecords-1].LogFileName
			break
		}
		res.Files.Items = append(res.Files.Items, xmlLogFile{LogFileName: name, LastWritten: f.Mod.UnixMilli(), Size: f.Size})
	}
	return res, nil
}

func int64Member(p awsquery.Params, name string) (int64, bool, error) {
	if !p.Has(name) {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(p.String(name)), 10, 64)
	if err != nil {
		return 0, false, awsquery.InvalidParameterValue("Invalid value for parameter %s: %q is not an integer.", name, awsquery.Clip(p.String(name)))
	}
	return n, true, nil
}

func logFileNotFound(name string) error {
	return awsquery.Errorf(http.StatusNotFound, "DBLogFileNotFoundFault", "DBLog File: %s, is not found on the DB instance", awsquery.Clip(name))
}

// downloadDBLogFilePortion serves part of a log file, as RDS: without a Marker the last
// NumberOfLines lines (10000 by default); with one, up to NumberOfLines lines from it
// ("0" is the file's start). The Marker returned is where the next portion starts;
// AdditionalDataPending says whether the file goes on after it. No answer exceeds 1 MB.
func (s *Service) downloadDBLogFilePortion(ctx context.Context, p awsquery.Params) (any, error) {
	name, err := p.Required("LogFileName")
	if err != nil {
		return nil, err
	}
	lines, hasLines, err := p.Int("NumberOfLines")
	if err != nil {
		return nil, err
	}
	if hasLines && lines < 1 {
		return nil, awsquery.InvalidParameterValue("Invalid value %d for NumberOfLines. Must be a positive number.", lines)
	}
	if !hasLines {
		lines = defaultLogLines
	}
	var from int64 = -1
	if p.Has("Marker") {
		if from, err = strconv.ParseInt(p.String("Marker"), 10, 64); err != nil || from < 0 {
			return nil, awsquery.InvalidParameterValue("Invalid marker: %s", awsquery.Clip(p.String("Marker")))
		}
	}
	dir, err := s.logDir(ctx, p.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	base, ok := strings.CutPrefix(name, dblog.NamePrefix)
	if !ok {
		return nil, logFileNotFound(name)
	}
	f, info, err := dblog.Open(dir, base) // only a name dblog lists (a trimmed file is gone)
	if errors.Is(err, dblog.ErrNotFound) {
		return nil, logFileNotFound(name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := info.Size
	part := io.NewSectionReader(f, 0, size)
	if from > size {
		from = size
	}
	var data []byte
	var next int64
	if from < 0 {
		data, next = tailLines(part, size, lines)
	} else {
		data, next = headLines(part, from, size, lines)
	}
	return downloadLogPortionResult{LogFileData: string(data), Marker: strconv.FormatInt(next, 10), AdditionalDataPending: next < size}, nil
}

// headLines reads up to n whole lines from off (a line longer than the limit is cut at
// it), and returns them with the offset after them.
func headLines(r io.ReaderAt, off, size int64, n int) ([]byte, int64) {
	buf := make([]byte, min(size-off, maxLogPortion))
	k, _ := r.ReadAt(buf, off)
	buf = buf[:k]
	end := 0
	for count := 0; count < n && end < len(buf); count++ {
		j := bytes.IndexByte(buf[end:], '\n')
		if j < 0 {
			if off+int64(len(buf)) == size && len(buf) < maxLogPortion {
				end = len(buf) // the last line, still being written
			} else if end == 0 {
				end = len(buf) // one line longer than an answer may be
			}
			break
		}
		end += j + 1
	}
	return buf[:end], off + int64(end)
}

// tailLines reads the last n lines (at most maxLogPortion bytes of them), and returns them
// with the file's end.
func tailLines(r io.ReaderAt, size int64, n int) ([]byte, int64) {
	start := max(size-maxLogPortion, 0)
	buf := make([]byte, size-start)
	k, _ := r.ReadAt(buf, start)
	buf = buf[:k]
	if start > 0 {
		if j := bytes.IndexByte(buf, '\n'); j >= 0 {
			buf = buf[j+1:] // whole lines only
		}
	}
	lines := bytes.SplitAfter(buf, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return bytes.Join(lines[max(len(lines)-n, 0):], nil), start + int64(k)
}

type describeDBLogFilesResult struct {
	Files struct {
		Items []xmlLogFile `xml:"DescribeDBLogFilesDetails"`
	} `xml:"DescribeDBLogFiles"`
	Marker string `xml:"Marker,omitempty"`
}

type xmlLogFile struct {
	LogFileName string `xml:"LogFileName"`
	LastWritten int64  `xml:"LastWritten"`
	Size        int64  `xml:"Size"`
}

type downloadLogPortionResult struct {
	LogFileData           string `xml:"LogFileData"`
	Marker                string `xml:"Marker"`
	AdditionalDataPending bool   `xml:"AdditionalDataPending"`
}
