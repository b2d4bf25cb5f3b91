// Native publish/subscribe (see topics.h for what it owns and how a topic lives and dies).
#include "topics.h"

#include <algorithm>
#include <cstring>

#include "byte_buf.h"
#include "loop.h"
#include "proto/ws.h"

namespace c1m {

using internal::Subscription;
using internal::tag_of;
using internal::Topic;

uint32_t Topics::find(std::string_view name) {
  auto it = ids_.find(std::string(name));
  return it == ids_.end() ? kNone : it->second;
}

uint32_t Topics::create(std::string_view name) {
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = uint32_t(topics_.size());
    topics_.emplace_back();
  }
  auto [it, added] = ids_.emplace(std::string(name), id);
  topics_[id].name = &it->first;
  live_++;
  return id;
}

// Removes member `index` of topic `id` (swap-remove, fixing the moved member's subscription) and
// frees the topic when it was the last.
void Topics::leave(uint32_t id, uint32_t index) {
  Topic& t = topics_[id];
  const uint64_t moved = t.members.back();
  t.members[index] = moved;
  t.members.pop_back();
  if (index < t.members.size()) {
    auto it = subs_.find(uint32_t(moved));
    if (it != subs_.end()) {
      for (Subscription& sub : it->second) {
        if (sub.topic == id) {
          sub.index = index;
          break;
        }
      }
    }
  }
  if (t.members.empty()) {
    ids_.erase(*t.name);
    t = Topic{};  // also releases the member list's memory
    free_.push_back(id);
    live_--;
  }
}

int Topics::subscribe(uint32_t fd, uint32_t gen, std::string_view topic) {
  if (!loop_.live(fd, gen) || !(loop_.slot(fd).flags & kFlagWs)) return 0;
  const ListenOptions& o = loop_.listener_of(loop_.slot(fd)).opt;
  if (topic.size() > o.max_topic_name) {
    loop_.counters().topicRefusals++;
    return kNameTooLong;
  }
  uint32_t id = find(topic);
  if (id != kNone) {
    auto mine = subs_.find(fd);
    if (mine != subs_.end()) {
      for (const Subscription& sub : mine->second)
        if (sub.topic == id) return 1;
    }
  } else {
    if (live_ >= o.max_topics) {
      loop_.counters().topicRefusals++;
      return kTooMany;
    }
    id = create(topic);
  }
  std::vector<uint64_t>& members = topics_[id].members;
  subs_[fd].push_back(Subscription{id, uint32_t(members.size())});
  members.push_back(tag_of(fd, gen));
  loop_.slot(fd).topics++;
  return 1;
}

bool Topics::unsubscribe(uint32_t fd, uint32_t gen, std::string_view topic) {
  if (!loop_.live(fd, gen)) return false;
  const uint32_t id = find(topic);
  auto it = subs_.find(fd);
  if (id == kNone || it == subs_.end()) return false;
  std::vector<Subscription>& mine = it->second;
  auto pos = std::find_if(mine.begin(), mine.end(), [id](const Subscription& sub) { return sub.topic == id; });
  if (pos == mine.end()) return false;
  const uint32_t index = pos->index;
  *pos = mine.back();
  mine.pop_back();
  if (mine.empty()) subs_.erase(it);
  loop_.slot(fd).topics--;
  leave(id, index);
  return true;
}

void Topics::drop(uint32_t fd) {
  Slot& s = loop_.slot(fd);
  if (!s.topics) return;
  auto it = subs_.find(fd);
  if (it != subs_.end()) {
    // Taken out of the map first: leave() fixes the subscriptions of the members it moves, and
    // must not find this closing connection's own list meanwhile.
    std::vector<Subscription> mine = std::move(it->second);
    subs_.erase(it);
    for (const Subscription& sub : mine) leave(sub.topic, sub.index);
  }
  s.topics = 0;
}

uint64_t Topics::publish(std::string_view topic, uint8_t opcode, const uint8_t* p, size_t n) {
  uint32_t id = find(topic);
  if (id == kNone) return 0;
  uint64_t d = publish_id(id, opcode, p, n);
  loop_.update_activity();
  return d;
}

bool Topics::publish_from(uint32_t fd, uint8_t opcode, const uint8_t* p, size_t n) {
  auto it = subs_.find(fd);
  if (it == subs_.end() || it->second.empty()) return false;
  publish_id(it->second.front().topic, opcode, p, n);
  return true;
}

uint64_t Topics::publish_id(uint32_t id, uint8_t opcode, const uint8_t* p, size_t n) {
  // The frame is built once and the same bytes go to every member. No JS runs meanwhile
  // (records go to the deferred list). A failed send closes its member, which leaves the topic
  // (a swap-remove: the member moved into its place is sent to next, at the same index), and
  // the last member leaving frees the topic: so the list is re-read at every step, and the loop
  // ends if the topic itself is gone.
  Loop::NoJs no_js(loop_);
  std::vector<uint8_t> frame(ws::kMaxHeaderBytes + n);
  size_t hn = ws::encode_header(frame.data(), true, opcode, n, nullptr);
  if (n) memcpy(frame.data() + hn, p, n);
  const size_t len = hn + n;
  uint64_t count = 0;
  const std::string* name = topics_[id].name;
  for (size_t i = 0; topics_[id].name == name && i < topics_[id].members.size();) {
    const uint64_t tag = topics_[id].members[i];
    const uint32_t fd = uint32_t(tag), gen = uint32_t(tag >> 32);
    Slot& s = loop_.slot(fd);
    if (s.flags & kFlagWsClosing) {
      ++i;
      continue;
    }
    if (loop_.send_or_queue(fd, s, frame.data(), len) >= 0) count++;
    // Still there: next index. Closed by the send: another member now sits at i (or none).
    if (loop_.live(fd, gen)) ++i;
  }
  Counters& c = loop_.counters();
  c.published++;
  c.deliveries += count;
  c.wsMessagesOut += count;
  return count;
}

uint64_t Topics::size(std::string_view topic) {
  uint32_t id = find(topic);
  return id == kNone ? 0 : topics_[id].members.size();
}

uint64_t Topics::memory_bytes() const {
  auto vec = [](size_t bytes) { return heap_chunk(bytes); };
  // An unordered_map node: the next pointer, the value, and (for std::string keys) the cached hash.
  constexpr size_t kSubsNode = sizeof(void*) + sizeof(std::pair<const uint32_t, std::vector<Subscription>>);
  constexpr size_t kTopicNode = sizeof(void*) + sizeof(std::pair<const std::string, uint32_t>) + sizeof(size_t);
  // The table, each name (its map node, and its bytes when longer than the string's inline
  // buffer), each member list, and the map's bucket array.
  uint64_t b = vec(topics_.capacity() * sizeof(Topic)) + vec(free_.capacity() * 4) + vec(ids_.bucket_count() * sizeof(void*));
  for (const auto& [name, id] : ids_) {
    b += heap_chunk(kTopicNode) + (name.capacity() > 15 ? heap_chunk(name.capacity() + 1) : 0);
    b += vec(topics_[id].members.capacity() * sizeof(uint64_t));
  }
  // Subscriptions: one map node and one small vector per subscribed connection.
  b += vec(subs_.bucket_count() * sizeof(void*));
  for (const auto& [fd, list] : subs_) b += heap_chunk(kSubsNode) + vec(list.capacity() * sizeof(Subscription));
  return b;
}

}  // namespace c1m
