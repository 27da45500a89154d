package config

import (
	"errors"
	"strings"
)

// splitWords splits s into words the way a POSIX shell does, without any expansion: unquoted blanks
// separate words; single quotes keep everything literally; double quotes keep everything except that a
// backslash still escapes $ ` " \ and newline; outside quotes a backslash keeps the next character
// literally and backslash-newline disappears. This matches what users of the Python version got from
// shlex.split for every input without $ or ` after a backslash inside double quotes.
func splitWords(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool // distinguishes an empty quoted word ("") from no word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New("ends with an unescaped backslash")
			}
			i++
			if s[i] != '\n' {
				word.WriteByte(s[i])
				inWord = true
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			word.WriteString(s[i+1 : i+1+end])
			i += 1 + end
			inWord = true
		case c == '"':
			j, err := doubleQuoted(s, i+1, &word)
			if err != nil {
				return nil, err
			}
			i = j
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// doubleQuoted copies the double-quoted text starting at s[start] into word and returns the index of the
// closing quote.
func doubleQuoted(s string, start int, word *strings.Builder) (int, error) {
	for i := start; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i, nil
		case '\\':
			if i+1 < len(s) {
				switch next := s[i+1]; next {
				case '$', '`', '"', '\\':
					word.WriteByte(next)
					i++
					continue
				case '\n':
					i++
					continue
				}
			}
			word.WriteByte(c)
		default:
			word.WriteByte(c)
		}
	}
	return 0, errors.New("unterminated double quote")
}
