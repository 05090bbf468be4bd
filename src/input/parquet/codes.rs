//! A text column read as dictionary codes, for a range of rows or for some rows only (the rows a report selects,
//! by a mask over the row group). polars' `ParquetReader` decodes every row of a column into views; polars-parquet's
//! `column_iter_to_arrays` takes a filter and, for a column marked categorical, hands back the dictionary page
//! and one code per row. Columns whose pages are not all dictionary-encoded (writers fall back to plain pages when
//! a dictionary grows too large) are refused, and the caller decodes them the usual way.

use std::io::Cursor;

use polars_arrow::array::DictionaryArray;
use polars_arrow::datatypes::{
    ArrowDataType, DTYPE_CATEGORICAL_NEW, Field as ArrowField, IntegerType, Metadata,
};
use polars_buffer::Buffer;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::read::{
    BasicDecompressor, ColumnChunkMetadata, Filter, PageReader, RowGroupMetadata,
    column_iter_to_arrays,
};

/// The codes of the rows `filter` keeps (a range of the group's rows, or a mask with one bit per row of the
/// group) of text column `column` of row group `rg`, read from the file's `bytes`; `None` when the column cannot be read this way (not one flat column chunk, not
/// all dictionary pages, anything unexpected). Decoder panics (corrupt files) are caught by the caller.
pub(super) fn codes(
    bytes: &[u8],
    rg: &RowGroupMetadata,
    column: &str,
    filter: Filter,
) -> Option<DictionaryArray<u32>> {
    let mut chunks = rg.columns_under_root_iter(column)?;
    let (Some(meta), None) = (chunks.next(), chunks.next()) else {
        return None;
    };
    let fits = match &filter {
        Filter::Mask(mask) => mask.len() == rg.num_rows(),
        Filter::Range(range) => range.end <= rg.num_rows(),
        Filter::Predicate(_) => false,
    };
    if !fits {
        return None;
    }
    let rows = filter.num_rows(rg.num_rows());
    let range = meta.byte_range();
    let start = usize::try_from(range.start).ok()?;
    let end = usize::try_from(range.end).ok()?;
    let chunk = bytes.get(start..end)?;
    if meta.compression() == Compression::Uncompressed {
        // The pages of an uncompressed chunk are decoded in place, so the decoded values may refer to the
        // buffer: it must be owned.
        return decode(Buffer::from(chunk.to_vec()), meta, column, filter, rows);
    }
    // polars decompresses every page of a compressed chunk into a buffer of its own, so nothing decoded refers
    // to the chunk and it can be lent rather than copied (the copy was ~4% of a report's CPU: every part of a
    // row group copied the group's whole chunk). `with_slice` aborts if the buffer is still held when it
    // returns, as polars' own reader relies on for the whole file.
    Buffer::with_slice(chunk, |chunk| decode(chunk, meta, column, filter, rows))
}

fn decode(
    chunk: Buffer<u8>,
    meta: &ColumnChunkMetadata,
    column: &str,
    filter: Filter,
    rows: usize,
) -> Option<DictionaryArray<u32>> {
    let pages = PageReader::new(Cursor::new(chunk), meta, Vec::new(), usize::MAX);
    let primitive = &meta.descriptor().descriptor.primitive_type;
    let mut md = Metadata::new();
    md.insert(DTYPE_CATEGORICAL_NEW.into(), "".into());
    let field = ArrowField::new(
        column.into(),
        ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        true,
    )
    .with_metadata(md);
    let (mut arrays, _) = column_iter_to_arrays(
        vec![BasicDecompressor::new(pages, Vec::new())],
        vec![primitive],
        field,
        Some(filter),
    )
    .ok()?;
    let (Some(array), true) = (arrays.pop(), arrays.is_empty()) else {
        return None;
    };
    let codes = array
        .as_any()
        .downcast_ref::<DictionaryArray<u32>>()?
        .clone();
    (codes.len() == rows).then_some(codes)
}
