//! The same passages in tantivy, a real search engine (Lucene's design in Rust): its default
//! analyser, its inverted index in RAM, its BM25. The lab's BM25 with [`Params::TANTIVY`]
//! must give the same scores.
//!
//! [`Params::TANTIVY`]: crate::bm25::Params::TANTIVY

use crate::{Result, Scored, check_k, invalid};
use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::{Index, IndexReader, TantivyDocument, Term};

/// A tantivy index of passages, numbered in the order given.
pub struct Engine {
    index: Index,
    reader: IndexReader,
    text: Field,
    /// Each segment's column of passage ids (a fast field: read without the document store).
    ids: Vec<Column<u64>>,
    len: usize,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("len", &self.len).finish()
    }
}

impl Engine {
    /// Indexes `passages` in RAM (one writer thread: one segment, the order kept).
    pub fn build(passages: &[&str]) -> Result<Self> {
        if passages.is_empty() {
            return Err(invalid("passages", "nothing to index"));
        }
        let mut schema = Schema::builder();
        // Word counts without positions: all BM25 needs (no phrase queries).
        let indexing = TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqs);
        let text = schema.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(indexing),
        );
        let id = schema.add_u64_field("id", FAST);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, 50_000_000)?;
        for (i, p) in passages.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_text(text, p);
            doc.add_u64(id, i as u64);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        let ids = reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|s| s.fast_fields().u64("id"))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Self {
            index,
            reader,
            text,
            ids,
            len: passages.len(),
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The words tantivy's analyser finds in `query`.
    pub fn words(&self, query: &str) -> Result<Vec<String>> {
        let mut analyser = self.index.tokenizer_for_field(self.text)?;
        let mut stream = analyser.token_stream(query);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        Ok(out)
    }

    /// The `k` best passages for `query` by tantivy's BM25: one optional term query per word
    /// (a disjunction, scores summed). Passages holding no query word are not returned.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Scored>> {
        check_k(k, self.len)?;
        let words = self.words(query)?;
        if words.is_empty() {
            return Err(invalid(
                "query",
                format!("{query:?} has no word to search for"),
            ));
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .map(|w| {
                let term = Term::from_field_text(self.text, w);
                let q: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                (Occur::Should, q)
            })
            .collect();
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(k).order_by_score(),
        )?;
        let mut out = Vec::with_capacity(top.len());
        for (score, address) in top {
            let id = self
                .ids
                .get(address.segment_ord as usize)
                .and_then(|c| c.first(address.doc_id))
                .ok_or_else(|| invalid("index", "a document without its id"))?;
            out.push(Scored {
                id: id as usize,
                score: f64::from(score),
            });
        }
        Ok(out)
    }
}
