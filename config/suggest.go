package config

import (
	"strings"
)

// maxSuggestInput bounds the quadratic edit-distance work per value.
const maxSuggestInput = 256

// suggest returns the candidate closest to s: an exact case-insensitive
// match first, then a candidate that s abbreviates, otherwise the nearest by
// edit distance within roughly a third of the length. It returns "" when nothing is close.
func suggest(s string, candidates []string) string {
	if len(s) > maxSuggestInput {
		return ""
	}
	for _, c := range candidates {
		if c != s && strings.EqualFold(c, s) {
			return c
		}
	}
	best, bestDist := "", -1
	if len(s) >= 3 {
		for _, c := range candidates {
			if c != s && strings.HasPrefix(c, s) {
				return c
			}
		}
	}
	limit := max(1, len([]rune(s))/3)
	for _, c := range candidates {
		if c == s || len(c) > maxSuggestInput {
			continue
		}
		if dist := levenshtein(s, c); dist <= limit && (bestDist < 0 || dist < bestDist) {
			best, bestDist = c, dist
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, by runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
