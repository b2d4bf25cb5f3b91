// Native publish/subscribe for WebSocket connections. Topics owns the topic registry (ids by
// name, each topic's member list, the ids freed for reuse, the count of live topics that a
// listener's max_topics bounds) and every connection's subscriptions.
//
// A topic lives while it has members: created by its first subscribe, freed (name, member list,
// id) when its last member unsubscribes or closes. Each subscription records its index in the
// topic's member list, so leaving is a swap-remove, O(1), and a publish meets no stale members.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace c1m {

class Loop;

namespace internal {

// A publish/subscribe topic: members are connection tags (fd | gen << 32). A member leaves when
// it unsubscribes or closes (each subscription knows its position, so leaving is O(1)); the
// topic is freed with its last member.
struct Topic {
  const std::string* name = nullptr;  // the key in Topics::ids_ (node-based: stable)
  std::vector<uint64_t> members;
};

// One connection's topic memberships: the topic and the member's index in Topic::members.
struct Subscription {
  uint32_t topic;
  uint32_t index;
};

}  // namespace internal

class Topics {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;  // find(): no such topic
  static constexpr int kNameTooLong = -1;        // subscribe(): the name is over the listener's max_topic_name
  static constexpr int kTooMany = -2;            // subscribe(): the listener's max_topics are alive

  explicit Topics(Loop& loop) : loop_(loop) {}
  Topics(const Topics&) = delete;
  Topics& operator=(const Topics&) = delete;

  // Adds a WebSocket connection to a topic (idempotent). 1 on success; 0 for a stale id or a
  // connection that is not a WebSocket; kNameTooLong / kTooMany when its listener's bounds refuse it.
  int subscribe(uint32_t fd, uint32_t gen, std::string_view topic);
  // Removes it. False for a stale id or when it was not subscribed.
  bool unsubscribe(uint32_t fd, uint32_t gen, std::string_view topic);
  // Sends one message to every member of a topic natively; returns the number of deliveries.
  uint64_t publish(std::string_view topic, uint8_t opcode, const uint8_t* p, size_t n);
  // Members of a topic right now.
  uint64_t size(std::string_view topic);

  // The topic's id, or kNone.
  uint32_t find(std::string_view name);
  // Topics alive right now.
  uint64_t live_count() const { return live_; }
  // Publishes to the first topic the connection is a member of (a broadcast room's member
  // speaks to its room). False when it is a member of none.
  bool publish_from(uint32_t fd, uint8_t opcode, const uint8_t* p, size_t n);
  // A connection is closing: it leaves every topic it is in.
  void drop(uint32_t fd);
  // Heap bytes of the registry and the subscriptions, in malloc chunks.
  uint64_t memory_bytes() const;

 private:
  uint32_t create(std::string_view name);
  void leave(uint32_t id, uint32_t index);
  uint64_t publish_id(uint32_t id, uint8_t opcode, const uint8_t* p, size_t n);

  Loop& loop_;
  std::vector<internal::Topic> topics_;  // indexed by topic id; a freed id goes on free_
  std::vector<uint32_t> free_;
  uint64_t live_ = 0;
  std::unordered_map<std::string, uint32_t> ids_;
  std::unordered_map<uint32_t, std::vector<internal::Subscription>> subs_;  // fd -> memberships (only subscribed fds)
};

}  // namespace c1m
