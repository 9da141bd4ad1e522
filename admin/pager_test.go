package admin

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/flowlytix/licensing/syncserver"
)

func TestThePagerNumbersThePagesAndSaysWhenItStoppedCounting(t *testing.T) {
	r := httptest.NewRequest("GET", "/admin/devices?status=active&page=7&done=x", nil)
	numbers := func(pg pager) []int {
		var out []int
		for _, l := range pg.Links {
			out = append(out, l.Number) // 0 is a gap
		}
		return out
	}
	p := syncserver.Page{Page: 7, PageSize: 25, CountUpTo: 1_000}
	pg := newPager(r, p, 500)
	assert.Equal(t, 20, pg.Pages)
	assert.Equal(t, []int{1, 0, 5, 6, 7, 8, 9, 0, 20}, numbers(pg))
	assert.Equal(t, "/admin/devices?page=6&status=active", pg.Prev, "links keep the filters, not the message")
	assert.False(t, pg.More)

	pg = newPager(r, p, 1_001)
	assert.True(t, pg.More, "past the count's cap")
	assert.Equal(t, 1_000, pg.Total)
	assert.NotEmpty(t, pg.Next, "there is a next page")

	w := httptest.NewRecorder()
	assert.True(t, clamped(w, httptest.NewRequest("GET", "/admin/devices?page=99", nil), syncserver.Page{Page: 99, PageSize: 25, CountUpTo: 1_000}, 30))
	assert.Equal(t, "/admin/devices?page=2", w.Header().Get("Location"), "past the last page: the last page")
	assert.False(t, clamped(httptest.NewRecorder(), r, syncserver.Page{Page: 500, PageSize: 25, CountUpTo: 1_000}, 1_001), "not counted to the end: not clamped")
}
