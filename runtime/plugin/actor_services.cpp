#include "plugin/actor_services.hpp"

namespace meshrun {
namespace {
Error controller_only(const char* what) {
  return make_error(Errc::forbidden, std::string("only the job's controller may ") + what);
}
}  // namespace

Status ActorServices::spawn_procs(const Caller&, std::string, std::vector<Dim>, Millis, uint64_t) {
  return controller_only("spawn proc meshes");
}
Status ActorServices::spawn_actors(const Caller&, std::string, const MeshRef&, std::string,
                                   std::string, Millis, uint64_t) {
  return controller_only("spawn actor meshes");
}
Status ActorServices::stop(const Caller&, std::string, Millis, uint64_t) {
  return controller_only("stop meshes");
}
Result<MeshRef> ActorServices::lookup(const Caller&, std::string_view) {
  return controller_only("look meshes up by name");
}
void ActorServices::exit_job(const Caller&, int, std::string) {}
void ActorServices::print(const Caller&, std::string_view) {}

}  // namespace meshrun
