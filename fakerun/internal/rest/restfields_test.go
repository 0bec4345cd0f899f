package rest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectFields(t *testing.T) {
	t.Parallel()
	const body = `{"name":"n","template":{"revision":"r","containers":[{"image":"i","name":"c"}]},"traffic":[{"percent":100,"tag":"t"}],"uri":"u"}`
	testcases := []struct {
		name     string
		selector string
		want     string
		wantErr  bool
	}{
		{name: "success: top-level fields keep the response's order", selector: "uri,name", want: `{"name":"n","uri":"u"}`},
		{name: "success: a path into a message", selector: "template/revision", want: `{"template":{"revision":"r"}}`},
		{name: "success: a sub-selection applies to every list item", selector: "traffic(tag),template/containers(image)", want: `{"template":{"containers":[{"image":"i"}]},"traffic":[{"tag":"t"}]}`},
		{name: "success: the whole field wins over a part of it", selector: "template/revision,template", want: `{"template":{"revision":"r","containers":[{"image":"i","name":"c"}]}}`},
		{name: "success: a wildcard", selector: "*", want: body},
		{name: "success: a name the response lacks selects nothing", selector: "nope", want: `{}`},
		{name: "fail: unclosed parenthesis", selector: "traffic(tag", wantErr: true},
		{name: "fail: empty name", selector: "name,,uri", wantErr: true},
		{name: "fail: trailing slash", selector: "template/", wantErr: true},
	}
	for _, tc := range testcases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := selectFields([]byte(body), tc.selector)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got), "byte for byte, in order")
		})
	}
}
