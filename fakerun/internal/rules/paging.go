package rules

import (
	"fmt"
	"strconv"
)

// MaxPageSize is the default and largest page size of List RPCs.
const MaxPageSize = 1000

// pageBounds turns page_size and page_token (an offset) into the slice
// [start, end) of total items and the token of the next page ("" at the end).
func PageBounds(pageSize int32, token string, total int) (start, end int, next string, err error) {
	if pageSize < 0 {
		return 0, 0, "", InvalidArgument("page_size", fmt.Sprintf("page size must not be negative, got %d", pageSize))
	}
	size := int(pageSize)
	if size == 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	if token != "" {
		start, err = strconv.Atoi(token)
		if err != nil || start < 0 || start > total {
			return 0, 0, "", InvalidArgument("page_token", fmt.Sprintf("invalid page token %q; pass the next_page_token of a previous response", token))
		}
	}
	end = min(start+size, total)
	if end < total {
		next = strconv.Itoa(end)
	}
	return start, end, next, nil
}
