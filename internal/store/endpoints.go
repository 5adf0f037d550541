package store

import "context"

// EndpointNames lists the endpoint names of every cluster (its cluster and reader
// endpoints) and instance that exists: the names the DNS server answers for. It reads three
// fields, not whole records, since it runs for DNS queries.
func (s *Store) EndpointNames(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT json_extract(doc, '$.endpoint') FROM clusters
		UNION ALL SELECT json_extract(doc, '$.reader_endpoint') FROM clusters
		UNION ALL SELECT json_extract(doc, '$.endpoint') FROM instances`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n *string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if n != nil && *n != "" {
			names = append(names, *n)
		}
	}
	return names, rows.Err()
}
