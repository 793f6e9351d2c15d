package capture

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is the lake's Parquet compression: zstd at its fastest level
// (on the demo leads 10% less of the writer's CPU than the default level
// for 3% more bytes, BenchmarkLakeCPU), with a 1 MiB window and one encoder kept for the
// life of the process. parquet.Zstd's pooled encoders each hold an 8 MiB
// window twice over, and a pool emptied by the garbage collector makes new
// ones: tens of MiB of a server's memory for pages of a few hundred KiB.
type zstdCodec struct {
	once sync.Once
	mu   sync.Mutex
	enc  *zstd.Encoder
	dec  *zstd.Decoder
	err  error
}

// lakeZstd is shared by every lake and outcome file of the process.
var lakeZstd = &zstdCodec{}

func (c *zstdCodec) init() {
	c.once.Do(func() {
		c.enc, c.err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20),
			zstd.WithLowerEncoderMem(true),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false),
		)
		if c.err != nil {
			return
		}
		c.dec, c.err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	})
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	c.init()
	if c.err != nil {
		return dst[:0], c.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	c.init()
	if c.err != nil {
		return dst[:0], c.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dec.DecodeAll(src, dst[:0])
}
