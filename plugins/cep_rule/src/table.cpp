#include "table.hpp"

#include <stdexcept>

namespace weir::cep {

Table::Table(const TableDecl& decl) : decl_(decl), type_{decl.name, {}} {
  identity_ = "table " + decl.name + "(";
  for (size_t c = 0; c < decl.columns.size(); ++c) {
    const TableColumn& col = decl.columns[c];
    type_.fields.push_back({col.name, col.type});
    if (col.key) keys_.push_back(static_cast<int>(c));
    identity_ += col.name + ":" + (col.agg ? std::string(aggregate_name(col.fn)) + "/" : "") + type_name(col.type) +
                 (col.key ? " key," : ",");
  }
  identity_ += ")";
}

const Value* Table::find(const std::vector<Value>& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : rows_[it->second].data();
}

void Table::write(const std::vector<Value>& key, const std::vector<int>& columns, const std::vector<Value>& values) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    std::vector<Value> row(type_.fields.size());
    for (size_t k = 0; k < keys_.size(); ++k) row[static_cast<size_t>(keys_[k])] = key[k];
    rows_.push_back(std::move(row));
    it = index_.emplace(key, rows_.size() - 1).first;
  }
  std::vector<Value>& row = rows_[it->second];
  for (size_t c = 0; c < columns.size(); ++c) row[static_cast<size_t>(columns[c])] = values[c];
}

void Table::save(Writer& w) const {
  w.u64(rows_.size());
  for (const std::vector<Value>& row : rows_)
    for (const Value& v : row) w.value(v);
}

void Table::load(Reader& r) {
  rows_.clear();
  index_.clear();
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {
    std::vector<Value> row(type_.fields.size());
    for (Value& v : row) v = r.value();
    std::vector<Value> key;
    for (int k : keys_) key.push_back(row[static_cast<size_t>(k)]);
    if (!index_.emplace(key, rows_.size()).second) throw std::runtime_error("cep_rule state: table '" + name() + "' has a key twice");
    rows_.push_back(std::move(row));
  }
}

}  // namespace weir::cep
