package capture

import "os"

// preallocChunk is how far ahead of its writes a journal segment's disk
// blocks are reserved (fallocate, keeping the file's size): the writes
// then fill blocks the filesystem already allocated instead of reserving
// and allocating them page by page (ext4's delayed allocation), which
// measured at 7 to 16% of the write system call's CPU. 4 MiB is a few
// thousand records; the part not written is given back when the segment
// closes (trimPrealloc).
const preallocChunk = 4 << 20

// reserve makes sure the segment's blocks are allocated up to end bytes,
// a chunk at a time. A filesystem (or platform) without preallocation,
// or one that refuses it (a full disk), leaves the segment as it was: the
// journal then writes as it always did, and a write that truly has no
// room reports the error itself. The first refusal stops the tries for
// this segment.
func (s *segmentWriter) reserve(end int64, fallocate func(f *os.File, off, n int64) error) {
	if s.noPrealloc || end <= s.allocated || s.f == nil || fallocate == nil {
		return
	}
	n := (end - s.allocated + preallocChunk - 1) / preallocChunk * preallocChunk
	if err := fallocate(s.f, s.allocated, n); err != nil {
		s.noPrealloc = true
		return
	}
	s.allocated += n
}

// trimPrealloc gives back the blocks reserved past the segment's end:
// truncating a file to its own size frees what was allocated beyond it
// and changes none of its bytes. Errors are ignored: the blocks are freed
// at the latest when the segment is removed.
func (s *segmentWriter) trimPrealloc() {
	if s.allocated == 0 || s.f == nil {
		return
	}
	fi, err := s.f.Stat()
	if err != nil || fi.Size() >= s.allocated {
		return
	}
	_ = s.f.Truncate(fi.Size())
}
