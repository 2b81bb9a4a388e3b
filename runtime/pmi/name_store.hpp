// The job's name service (MPI_Publish_name, MPI_Lookup_name,
// MPI_Unpublish_name; PMI-1's publish_name and PMIx's publish): names
// published by any rank, looked up by any rank of the same job. The launcher
// keeps the job's one store; a single-host PMI job keeps its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "wire/messages.hpp"

namespace meshrun {

struct PublishedName {
  std::string key;
  std::string value;
  uint32_t publisher = 0;  // the rank that published it
};

class NameStore {
 public:
  using Found = std::function<void(NameStatus, const PublishedName&)>;

  // duplicate when the key is published already (MPI: a name is published
  // once until unpublished). Lookups waiting for the key are answered.
  NameStatus publish(uint32_t rank, const std::string& key, const std::string& value);
  // not_found when the key is not published.
  NameStatus unpublish(const std::string& key);
  // Answers at once, or with `wait` when the key gets published (or
  // cancel()). Returns a ticket for cancel(); 0 when answered at once.
  uint64_t lookup(const std::string& key, bool wait, Found done);
  // Answers a waiting lookup with not_found.
  void cancel(uint64_t ticket);
  size_t waiting() const { return waiting_.size(); }

 private:
  std::map<std::string, PublishedName> names_;
  struct Wait {
    std::string key;
    Found done;
  };
  std::map<uint64_t, Wait> waiting_;
  uint64_t next_ticket_ = 1;
};

// What a rank's PMI server asks of the job's name service; answered on the
// caller's thread, now or later.
class JobNames {
 public:
  virtual ~JobNames() = default;
  virtual void publish(uint32_t rank, const std::string& key, const std::string& value,
                       std::function<void(NameStatus)> done) = 0;
  // `wait_ms` > 0: wait that long for the key to be published.
  virtual void lookup(uint32_t rank, const std::string& key, uint32_t wait_ms,
                      NameStore::Found done) = 0;
  virtual void unpublish(uint32_t rank, const std::string& key,
                         std::function<void(NameStatus)> done) = 0;
};

// A JobNames of one process (a single-host PMI job, tests): a store answered
// in place. A waiting lookup is answered when the name is published, however
// long that takes.
class LocalJobNames final : public JobNames {
 public:
  void publish(uint32_t rank, const std::string& key, const std::string& value,
               std::function<void(NameStatus)> done) override {
    done(store_.publish(rank, key, value));
  }
  void lookup(uint32_t rank, const std::string& key, uint32_t wait_ms,
              NameStore::Found done) override {
    (void)rank;
    store_.lookup(key, wait_ms > 0, std::move(done));
  }
  void unpublish(uint32_t rank, const std::string& key,
                 std::function<void(NameStatus)> done) override {
    (void)rank;
    done(store_.unpublish(key));
  }
  const NameStore& store() const { return store_; }

 private:
  NameStore store_;
};

// "duplicate", "not_found", ... for messages.
std::string_view name_status_text(NameStatus status);

}  // namespace meshrun
