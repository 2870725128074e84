"""factory_boy factories for test data."""

import factory

from accounts.models import User

PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    """A user with the password :data:`PASSWORD` (settings row created by the signal)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Faker("name")
    roles = factory.LazyFunction(list)

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])
